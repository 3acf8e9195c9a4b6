import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ISessionContext } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { CataloguePanel, DEFAULT_SETTINGS, IPanelSettings, Tab } from './panel';
import { setRequestTimeout } from './request';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const PACKAGE_VERSION: string = require('../package.json').version;

const PLUGIN_ID = 'eucaim-jupyterlab:plugin';

const eucaimIcon = new LabIcon({
  name: 'eucaim-jupyterlab:catalogue',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><circle cx="12" cy="12" r="3"/>' +
    '<path d="M12 2a10 10 0 1 0 0 20a10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16a8 8 0 0 1 0-16z"/>' +
    '<rect x="11" y="0" width="2" height="6"/><rect x="11" y="18" width="2" height="6"/></g></svg>'
});

namespace CommandIDs {
  export const open = 'eucaim:open-catalogue';
  export const requests = 'eucaim:my-requests';
  export const basket = 'eucaim:request-basket';
  export const checkouts = 'eucaim:checkouts';
}

function readSettings(settings: ISettingRegistry.ISettings): IPanelSettings {
  const get = <T>(key: string, fallback: T): T =>
    (settings.get(key).composite as T | undefined) ?? fallback;
  setRequestTimeout(get('requestTimeoutMs', 15000));
  return {
    pageSize: get('pageSize', DEFAULT_SETTINGS.pageSize),
    searchDebounceMs: get('searchDebounceMs', DEFAULT_SETTINGS.searchDebounceMs),
    pollIntervalMs: get('pollIntervalMs', DEFAULT_SETTINGS.pollIntervalMs),
    facets: get('facets', DEFAULT_SETTINGS.facets)
  };
}

/** The EUCAIM Catalogue side panel, its commands, palette entries and launcher card. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'EUCAIM workbench: search the catalogue, request access, check out datasets, open sandboxed notebooks.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ICommandPalette, ILauncher, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ) => {
    performance.mark('eucaim-activate');
    const panel = new CataloguePanel({
      frontendVersion: PACKAGE_VERSION,
      settings: DEFAULT_SETTINGS,
      openNotebook: async (path: string, kernelName: string) => {
        // the kernelspec was installed just now: JupyterLab must know it, or it would fall back to
        // another (unsandboxed) kernel of the same language
        await app.serviceManager.kernelspecs.refreshSpecs();
        if (!app.serviceManager.kernelspecs.specs?.kernelspecs[kernelName]) {
          throw new Error(
            `JupyterLab does not list the sandboxed kernel ${kernelName}; the notebook was not opened.`
          );
        }
        const widget = docManager.openOrReveal(path, 'Notebook', { name: kernelName });
        if (!widget) {
          throw new Error(`JupyterLab could not open ${path}.`);
        }
        await widget.context.ready;
        const session = (widget as unknown as { sessionContext?: ISessionContext }).sessionContext;
        if (session) {
          await session.ready;
          const running = session.session?.kernel?.name;
          if (running !== kernelName) {
            await session.shutdown();
            throw new Error(
              `The notebook ${path} started on kernel ${running ?? '(none)'} instead of the sandboxed kernel ` +
                `${kernelName}; that kernel was shut down. Choose "${kernelName}" in Kernel > Change Kernel.`
            );
          }
        }
      }
    });
    panel.title.icon = eucaimIcon;
    // settings arrive later: the panel starts searching with the defaults at once
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          panel.settings = readSettings(settings);
          settings.changed.connect(() => {
            panel.settings = readSettings(settings);
          });
        })
        .catch(reason => {
          console.warn('eucaim-jupyterlab: settings could not be loaded, using defaults.', reason);
        });
    }
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, 'eucaim-catalogue');

    const show = (tab: Tab) => {
      app.shell.activateById(panel.id);
      panel.showTab(tab);
    };
    app.commands.addCommand(CommandIDs.open, {
      label: 'Open EUCAIM Catalogue',
      caption: 'Search and browse the EUCAIM datasets of this node',
      icon: eucaimIcon,
      execute: () => show('catalogue')
    });
    app.commands.addCommand(CommandIDs.requests, {
      label: 'EUCAIM: My Access Requests',
      execute: () => show('requests')
    });
    app.commands.addCommand(CommandIDs.basket, {
      label: 'EUCAIM: Request Access (Basket)',
      execute: () => show('basket')
    });
    app.commands.addCommand(CommandIDs.checkouts, {
      label: 'EUCAIM: My Checkouts',
      execute: () => show('checkouts')
    });
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'EUCAIM' });
      }
    }
    launcher?.add({ command: CommandIDs.open, category: 'EUCAIM', rank: 1 });
    void app.restored.then(() => performance.mark('eucaim-lab-restored'));
  }
};

export default plugin;
