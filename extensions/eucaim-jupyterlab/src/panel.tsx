/** The "EUCAIM Catalogue" side panel: state, server calls and the views of components.tsx. */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import * as api from './api';
import {
  BasketView,
  CheckoutsView,
  DatasetDetails,
  ErrorBanner,
  FacetFilters,
  RequestsView,
  ResultsList
} from './components';
import {
  FacetCounts,
  FacetSelection,
  IAccessRequest,
  IDatasetRecord,
  ISearchState,
  errorHint,
  needsPolling,
  nextPageOffset,
  selectionSize,
  statusChanges,
  statusView,
  toggleFacet,
  versionProblem
} from './logic';
import { EucaimError } from './request';

export type Tab = 'catalogue' | 'basket' | 'requests' | 'checkouts';

export interface IPanelSettings {
  pageSize: number;
  searchDebounceMs: number;
  pollIntervalMs: number;
  facets: string[];
}

export const DEFAULT_SETTINGS: IPanelSettings = {
  pageSize: 50,
  searchDebounceMs: 60,
  pollIntervalMs: 3000,
  facets: ['condition', 'body_part', 'modality', 'manufacturer', 'access_condition', 'provider']
};

/** Opens a notebook file with a given kernel (wired to the document manager by the plugin). */
export type NotebookOpener = (path: string, kernelName: string) => Promise<void>;

interface IProblem {
  message: string;
  hint: string;
}

function problemOf(error: unknown): IProblem {
  if (error instanceof EucaimError) {
    return { message: error.message, hint: errorHint(error.status, error.kind) };
  }
  return { message: String((error as Error)?.message ?? error), hint: errorHint(500, 'unknown') };
}

/** Timings the UI tests read: performance marks plus data attributes on the panel's node. */
function mark(name: string): void {
  if (typeof performance !== 'undefined' && performance.mark) {
    performance.mark(name);
  }
}

function App(props: {
  frontendVersion: string;
  settings: IPanelSettings;
  openNotebook: NotebookOpener;
  tabRequested: Signal<CataloguePanel, Tab>;
  owner: CataloguePanel;
}): JSX.Element {
  const { settings } = props;
  const [tab, setTab] = React.useState<Tab>('catalogue');
  const [search, setSearch] = React.useState<ISearchState>({ text: '', facets: {} });
  const [rows, setRows] = React.useState<api.IDatasetSummary[]>([]);
  const [total, setTotal] = React.useState(0);
  const [counts, setCounts] = React.useState<FacetCounts>({});
  const [searching, setSearching] = React.useState(true);
  const [details, setDetails] = React.useState<IDatasetRecord | null>(null);
  const [basket, setBasket] = React.useState<string[]>([]);
  const [purpose, setPurpose] = React.useState('');
  const [requests, setRequests] = React.useState<IAccessRequest[]>([]);
  const [checkouts, setCheckouts] = React.useState<api.ICheckout[]>([]);
  const [busy, setBusy] = React.useState<string | null>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);
  const [serverProblem, setServerProblem] = React.useState<IProblem | null>(null);

  const generation = React.useRef(0);
  const inflight = React.useRef<AbortController | null>(null);
  const loadingPage = React.useRef<number | null>(null);
  const typedAt = React.useRef(0);
  const firstResults = React.useRef(true);

  const fail = React.useCallback((error: unknown) => {
    if (error instanceof EucaimError && error.kind === 'aborted') {
      return;
    }
    setProblem(problemOf(error));
  }, []);

  // commands of the plugin switch tabs
  React.useEffect(() => {
    const onTab = (_: CataloguePanel, next: Tab) => setTab(next);
    props.tabRequested.connect(onTab);
    return () => {
      props.tabRequested.disconnect(onTab);
    };
  }, [props.tabRequested]);

  // the server extension must be there, with the same version
  React.useEffect(() => {
    api
      .fetchVersion()
      .then(v => {
        const issue = versionProblem(props.frontendVersion, v.version);
        setServerProblem(issue ? { message: issue.message, hint: errorHint(0, issue.kind) } : null);
      })
      .catch((error: unknown) => {
        if (error instanceof EucaimError && error.kind === 'missing_extension') {
          const issue = versionProblem(props.frontendVersion, null)!;
          setServerProblem({ message: issue.message, hint: errorHint(404, issue.kind) });
        } else {
          fail(error);
        }
      });
  }, [props.frontendVersion, fail]);

  // search as you type: debounced, older answers discarded, the call before aborted
  React.useEffect(() => {
    typedAt.current = performance.now();
    const gen = ++generation.current;
    // the first search (panel start) goes out at once; later ones wait for typing to pause
    const delay = gen === 1 ? 0 : settings.searchDebounceMs;
    const timer = setTimeout(() => {
      if (gen === 1) {
        mark('eucaim-first-search-sent');
      }
      inflight.current?.abort();
      const controller = new AbortController();
      inflight.current = controller;
      const sentAt = performance.now();
      setSearching(true);
      api
        .search(search, 0, settings.pageSize, controller.signal)
        .then(response => {
          if (gen !== generation.current) {
            return;
          }
          loadingPage.current = null;
          setRows(response.results);
          setTotal(response.total);
          setCounts(response.facets);
          setSearching(false);
          setProblem(p => (p && p.hint === errorHint(0, 'network') ? null : p));
          requestAnimationFrame(() => {
            const node = props.owner.node;
            const now = performance.now();
            node.dataset.searchMs = (now - sentAt).toFixed(1);
            node.dataset.typedToRenderMs = (now - typedAt.current).toFixed(1);
            node.dataset.serverMs = String(response.took_ms);
            node.dataset.query = JSON.stringify(search);
            node.dataset.total = String(response.total);
            mark('eucaim-search-rendered');
            if (firstResults.current) {
              firstResults.current = false;
              mark('eucaim-panel-ready');
              node.dataset.ready = 'true';
            }
          });
        })
        .catch(error => {
          if (gen === generation.current) {
            setSearching(false);
            fail(error);
          }
        });
    }, delay);
    return () => clearTimeout(timer);
  }, [search, settings.pageSize, settings.searchDebounceMs, fail]);

  const onRange = React.useCallback(
    (_start: number, end: number) => {
      const offset = nextPageOffset(rows.length, total, end, settings.pageSize);
      if (offset === null || loadingPage.current === offset) {
        return;
      }
      loadingPage.current = offset;
      const gen = generation.current;
      api
        .search(search, offset, settings.pageSize)
        .then(response => {
          if (gen === generation.current) {
            setRows(current =>
              current.length === offset ? [...current, ...response.results] : current
            );
          }
        })
        .catch(fail)
        .finally(() => {
          if (loadingPage.current === offset) {
            loadingPage.current = null;
          }
        });
    },
    [rows.length, total, search, settings.pageSize, fail]
  );

  const lastRequests = React.useRef<IAccessRequest[] | null>(null);
  const refreshRequests = React.useCallback(async () => {
    try {
      const fresh = await api.fetchRequests();
      if (lastRequests.current) {
        const changes = [...statusChanges(lastRequests.current, fresh)].map(
          ([key, [, now]]) => `${key.split('/')[1]}: ${statusView(now).label}`
        );
        if (changes.length) {
          setNotice(`Status changed – ${changes.join('; ')}.`);
        }
      }
      lastRequests.current = fresh;
      setRequests(fresh);
    } catch (error) {
      fail(error);
    }
  }, [fail]);

  const refreshCheckouts = React.useCallback(async () => {
    try {
      setCheckouts(await api.fetchCheckouts());
    } catch (error) {
      fail(error);
    }
  }, [fail]);

  React.useEffect(() => {
    if (tab === 'requests') {
      void refreshRequests();
    } else if (tab === 'checkouts') {
      void refreshCheckouts();
    }
  }, [tab, refreshRequests, refreshCheckouts]);

  // live statuses: poll while the requests tab is shown or any decision is pending
  const polling = tab === 'requests' || needsPolling(requests);
  React.useEffect(() => {
    if (!polling || settings.pollIntervalMs <= 0) {
      return;
    }
    const timer = setInterval(() => {
      if (props.owner.isVisible) {
        void refreshRequests();
      }
    }, settings.pollIntervalMs);
    return () => clearInterval(timer);
  }, [polling, settings.pollIntervalMs, refreshRequests]);

  const openDetails = React.useCallback(
    (id: string) => {
      api
        .fetchDataset(id)
        .then(record => setDetails(record))
        .catch(fail);
    },
    [fail]
  );

  const submitRequest = async () => {
    setBusy('request');
    try {
      const created = await api.createRequest(basket, purpose);
      setBasket([]);
      setPurpose('');
      setNotice(`Access request ${created.request_id} submitted for ${created.resources.length} dataset(s).`);
      setTab('requests');
      await refreshRequests();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(null);
    }
  };

  const checkOut = async (requestId: string, datasetId: string) => {
    setBusy(`${requestId}/${datasetId}`);
    try {
      const created = await api.createCheckout(requestId, datasetId);
      setNotice(`Checked out ${created.dataset_id} as ${created.checkout_id}.`);
      setTab('checkouts');
      await refreshCheckouts();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(null);
    }
  };

  const openNotebook = async (checkoutId: string) => {
    setBusy(checkoutId);
    try {
      const nb = await api.createNotebook(checkoutId);
      await props.openNotebook(nb.path, nb.kernel_name);
      setNotice(`Opened ${nb.path} on the sandboxed kernel ${nb.kernel_name}.`);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(null);
    }
  };

  const selected = selectionSize(search.facets);
  return (
    <div className="jp-eucaim-panel-body">
      <div className="jp-eucaim-header">
        <span className="jp-eucaim-title">EUCAIM Catalogue</span>
      </div>
      {serverProblem && (
        <div className="jp-eucaim-error" role="alert" data-testid="eucaim-server-problem">
          <div className="jp-eucaim-error-message">{serverProblem.message}</div>
          <div className="jp-eucaim-error-hint">{serverProblem.hint}</div>
        </div>
      )}
      {problem && (
        <ErrorBanner message={problem.message} hint={problem.hint} onDismiss={() => setProblem(null)} />
      )}
      {notice && (
        <div className="jp-eucaim-notice" data-testid="eucaim-notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      <div className="jp-eucaim-tabs" role="tablist">
        {(
          [
            ['catalogue', 'Catalogue'],
            ['basket', `Basket (${basket.length})`],
            ['requests', 'My requests'],
            ['checkouts', 'Checkouts']
          ] as Array<[Tab, string]>
        ).map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={tab === id}
            data-testid={`eucaim-tab-${id}`}
            className={`jp-eucaim-tab${tab === id ? ' jp-mod-active' : ''}`}
            onClick={() => setTab(id)}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === 'catalogue' && details && (
        <DatasetDetails
          record={details}
          inBasket={basket.includes(details.identifier)}
          onBack={() => setDetails(null)}
          onAddToBasket={() => {
            setBasket(b => (b.includes(details.identifier) ? b : [...b, details.identifier]));
            setNotice(`${details.identifier} added to the request basket: give a purpose and submit it there.`);
            setTab('basket');
          }}
        />
      )}
      <div
        className="jp-eucaim-catalogue"
        style={{ display: tab === 'catalogue' && !details ? undefined : 'none' }}
      >
        <input
          className="jp-eucaim-search"
          type="search"
          placeholder="Search datasets (title, condition, body part, modality, …)"
          aria-label="Search datasets"
          data-testid="eucaim-search"
          value={search.text}
          onChange={e => {
            const text = e.target.value;
            setSearch(s => ({ ...s, text }));
          }}
        />
        <div className="jp-eucaim-summary" data-testid="eucaim-summary" aria-live="polite">
          {searching ? 'Searching… ' : ''}
          {total} dataset{total === 1 ? '' : 's'}
          {selected ? ` · ${selected} filter${selected === 1 ? '' : 's'} ` : ' '}
          {selected > 0 && (
            <button className="jp-eucaim-link" onClick={() => setSearch(s => ({ ...s, facets: {} }))}>
              clear filters
            </button>
          )}
        </div>
        {!searching && total === 0 && (
          <div className="jp-eucaim-muted" data-testid="eucaim-empty">
            {search.text.trim() || selected
              ? 'No dataset matches: remove a filter or shorten the search text.'
              : 'The catalogue of this node is empty: add the demo datasets with `eucaim-lab demo`, or ingest your own with `eucaim-lab ingest`.'}
          </div>
        )}
        <FacetFilters
          counts={counts}
          selection={search.facets}
          facets={settings.facets}
          onToggle={(facet, value) =>
            setSearch(s => ({ ...s, facets: toggleFacet(s.facets, facet, value) as FacetSelection }))
          }
        />
        <ResultsList rows={rows} total={total} basket={basket} onOpen={openDetails} onRange={onRange} />
      </div>
      {tab === 'basket' && (
        <BasketView
          basket={basket}
          purpose={purpose}
          busy={busy === 'request'}
          onPurpose={setPurpose}
          onRemove={id => setBasket(b => b.filter(x => x !== id))}
          onSubmit={() => void submitRequest()}
        />
      )}
      {tab === 'requests' && (
        <RequestsView
          requests={requests}
          busy={busy}
          polling={needsPolling(requests)}
          onCheckOut={(r, d) => void checkOut(r, d)}
        />
      )}
      {tab === 'checkouts' && (
        <CheckoutsView checkouts={checkouts} busy={busy} onOpenNotebook={id => void openNotebook(id)} />
      )}
    </div>
  );
}

/** The side panel widget (id `eucaim-catalogue`). */
export class CataloguePanel extends ReactWidget {
  constructor(
    private readonly options: {
      frontendVersion: string;
      settings: IPanelSettings;
      openNotebook: NotebookOpener;
    }
  ) {
    super();
    this.id = 'eucaim-catalogue';
    this.title.caption = 'EUCAIM Catalogue';
    this.addClass('jp-eucaim-panel');
  }

  /** Show one of the panel's tabs (used by the commands). */
  showTab(tab: Tab): void {
    this._tabRequested.emit(tab);
  }

  /** Apply changed settings (re-renders). */
  set settings(value: IPanelSettings) {
    this.options.settings = value;
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <App
        frontendVersion={this.options.frontendVersion}
        settings={this.options.settings}
        openNotebook={this.options.openNotebook}
        tabRequested={this._tabRequested}
        owner={this}
      />
    );
  }

  private readonly _tabRequested = new Signal<CataloguePanel, Tab>(this);
}
