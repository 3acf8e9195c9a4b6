/**
 * Pure front-end logic of the EUCAIM panel: query building, facet state, status rendering, citations,
 * error hints and the window of a virtualised list. No JupyterLab imports, so jest tests it directly.
 */

/** Facets shown in the panel, in order, with their labels. */
export const FACETS: ReadonlyArray<{ name: string; label: string }> = [
  { name: 'condition', label: 'Condition' },
  { name: 'body_part', label: 'Body part' },
  { name: 'modality', label: 'Modality' },
  { name: 'manufacturer', label: 'Manufacturer' },
  { name: 'access_condition', label: 'Access condition' },
  { name: 'provider', label: 'Provider' }
];

/** Selected values per facet; a facet with no selection is absent. */
export type FacetSelection = Readonly<Record<string, ReadonlyArray<string>>>;

export interface ISearchState {
  text: string;
  facets: FacetSelection;
}

/** Facet counts as the server sends them: facet -> value -> number of matching datasets. */
export type FacetCounts = Record<string, Record<string, number>>;

/**
 * Query string of `GET /eucaim/catalogue`: free text, one parameter per selected facet value (values of one
 * facet are ORed by the server, facets ANDed), and paging. Sorted so equal searches give equal strings.
 */
export function buildQuery(state: ISearchState, offset = 0, limit = 50): string {
  const params = new URLSearchParams();
  const text = state.text.trim().replace(/\s+/g, ' ');
  if (text) {
    params.append('text', text);
  }
  for (const facet of Object.keys(state.facets).sort()) {
    for (const value of [...state.facets[facet]].sort()) {
      params.append(facet, value);
    }
  }
  if (offset > 0) {
    params.append('offset', String(offset));
  }
  params.append('limit', String(limit));
  return params.toString();
}

/** The selection with `value` of `facet` switched on or off; empty facets are dropped. */
export function toggleFacet(
  selection: FacetSelection,
  facet: string,
  value: string
): FacetSelection {
  const current = selection[facet] ?? [];
  const next = current.includes(value)
    ? current.filter(v => v !== value)
    : [...current, value];
  const out: Record<string, ReadonlyArray<string>> = { ...selection };
  if (next.length) {
    out[facet] = next;
  } else {
    delete out[facet];
  }
  return out;
}

export function isSelected(
  selection: FacetSelection,
  facet: string,
  value: string
): boolean {
  return (selection[facet] ?? []).includes(value);
}

export function selectionSize(selection: FacetSelection): number {
  return Object.values(selection).reduce((n, values) => n + values.length, 0);
}

export interface IFacetOption {
  value: string;
  count: number;
  selected: boolean;
}

/**
 * Options of one facet for display: selected values first (kept even with a count of 0, so they can be
 * unticked), then the others by count, largest first; at most `limit` unselected options.
 */
export function facetOptions(
  counts: FacetCounts,
  selection: FacetSelection,
  facet: string,
  limit = 12
): IFacetOption[] {
  const known = counts[facet] ?? {};
  const selected = selection[facet] ?? [];
  const chosen = selected.map(value => ({
    value,
    count: known[value] ?? 0,
    selected: true
  }));
  const others = Object.entries(known)
    .filter(([value]) => !selected.includes(value))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([value, count]) => ({ value, count, selected: false }));
  return [...chosen, ...others];
}

/** Human label of a facet value: vocabulary slugs become words ("soft-tissue-sarcoma" -> "Soft tissue sarcoma"). */
export function valueLabel(facet: string, value: string): string {
  if (facet === 'modality' || facet === 'manufacturer' || facet === 'provider') {
    return value;
  }
  const words = value.replace(/[-_]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// ----- access statuses ------------------------------------------------------------------------------------------

/** How a Negotiator status looks in the panel: a short label and a tone for its badge. */
export interface IStatusView {
  label: string;
  tone: 'pending' | 'ok' | 'bad' | 'neutral';
  final: boolean;
}

const STATUS_VIEWS: Record<string, IStatusView> = {
  SUBMITTED: { label: 'Submitted', tone: 'pending', final: false },
  UNDER_REVIEW: { label: 'Under review', tone: 'pending', final: false },
  IN_PROGRESS: { label: 'In progress', tone: 'pending', final: false },
  CONCLUDED: { label: 'Concluded', tone: 'ok', final: true },
  ABANDONED: { label: 'Abandoned', tone: 'neutral', final: true },
  DECLINED: { label: 'Declined', tone: 'bad', final: true },
  CHECKING_AVAILABILITY: {
    label: 'Checking availability',
    tone: 'pending',
    final: false
  },
  RESOURCE_AVAILABLE: { label: 'Available', tone: 'pending', final: false },
  ACCESS_CONDITIONS_INDICATED: {
    label: 'Awaiting approval',
    tone: 'pending',
    final: false
  },
  ACCESS_CONDITIONS_MET: {
    label: 'Conditions met',
    tone: 'pending',
    final: false
  },
  RESOURCE_MADE_AVAILABLE: { label: 'Approved', tone: 'ok', final: true },
  RESOURCE_NOT_MADE_AVAILABLE: {
    label: 'Not made available',
    tone: 'bad',
    final: true
  },
  RESOURCE_UNAVAILABLE: { label: 'Unavailable', tone: 'bad', final: true },
  RESOURCE_DECLINED: { label: 'Declined', tone: 'bad', final: true }
};

export function statusView(status: string): IStatusView {
  return (
    STATUS_VIEWS[status] ?? {
      label: status
        .toLowerCase()
        .replace(/_/g, ' ')
        .replace(/^./, c => c.toUpperCase()),
      tone: 'neutral',
      final: false
    }
  );
}

export interface IResource {
  dataset_id: string;
  version: string;
  holder: string;
  access_condition: string;
  status: string;
  reason?: string | null;
  permit_id?: string | null;
}

export interface IAccessRequest {
  request_id: string;
  user: string;
  purpose: string;
  status: string;
  created: string;
  updated: string;
  resources: IResource[];
}

/** True while any request still waits for a decision: the panel keeps polling. */
export function needsPolling(requests: ReadonlyArray<IAccessRequest>): boolean {
  return requests.some(
    r =>
      !statusView(r.status).final ||
      r.resources.some(res => !statusView(res.status).final)
  );
}

/** Resources whose status changed between two listings: "REQ-1/ds-a" -> [old, new]. */
export function statusChanges(
  before: ReadonlyArray<IAccessRequest>,
  after: ReadonlyArray<IAccessRequest>
): Map<string, [string, string]> {
  const old = new Map<string, string>();
  for (const r of before) {
    for (const res of r.resources) {
      old.set(`${r.request_id}/${res.dataset_id}`, res.status);
    }
  }
  const changes = new Map<string, [string, string]>();
  for (const r of after) {
    for (const res of r.resources) {
      const key = `${r.request_id}/${res.dataset_id}`;
      const was = old.get(key);
      if (was !== undefined && was !== res.status) {
        changes.set(key, [was, res.status]);
      }
    }
  }
  return changes;
}

/** A resource that may be checked out: approved, with a permit. */
export function canCheckOut(res: IResource): boolean {
  return res.status === 'RESOURCE_MADE_AVAILABLE' && !!res.permit_id;
}

// ----- dataset details ------------------------------------------------------------------------------------------

export interface IDatasetRecord {
  identifier: string;
  title: string;
  description: string;
  version: string;
  provider: string;
  data_holder: string;
  license: string;
  access_condition: string;
  access_rights: string;
  doi?: string | null;
  landing_page?: string | null;
  issued?: string | null;
  contact_point?: string;
  [key: string]: unknown;
}

/** How to cite a dataset: holder/provider, year, title, version, publisher, DOI or landing page. */
export function citation(record: IDatasetRecord): string {
  const year = record.issued ? String(record.issued).slice(0, 4) : 'n.d.';
  const who = record.provider || record.data_holder;
  let text = `${who} (${year}). ${record.title.replace(/\.$/, '')} (version ${record.version}) [Data set]. EUCAIM.`;
  if (record.doi) {
    const doi = String(record.doi).replace(/^https?:\/\/(dx\.)?doi\.org\//, '');
    text += ` https://doi.org/${doi}`;
  } else if (record.landing_page) {
    text += ` ${record.landing_page}`;
  } else {
    text += ` Dataset id: ${record.identifier}.`;
  }
  return text;
}

/** One metadata value as text: lists joined, objects as key: value, empty as an en dash. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === '') {
    return '–';
  }
  if (Array.isArray(value)) {
    if (!value.length) {
      return '–';
    }
    return value
      .map(v =>
        v && typeof v === 'object' && 'label' in v
          ? `${(v as { label: string }).label}${'code' in v ? ` (${(v as { code: string }).code})` : ''}`
          : formatValue(v)
      )
      .join(', ');
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && !v.length)
    );
    return entries.length
      ? entries.map(([k, v]) => `${k}: ${formatValue(v)}`).join('; ')
      : '–';
  }
  return String(value);
}

/** Human label of a record field ("subjects_count" -> "Subjects count"). */
export function fieldLabel(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// ----- errors ---------------------------------------------------------------------------------------------------

const NO_ANSWER =
  'The Jupyter server does not answer. Check that it is still running (restart it with `eucaim-lab lab`), then retry.';

/** What the user should do about an error of this status/kind (status 0: no answer from the server). */
export function errorHint(status: number, kind: string): string {
  switch (kind) {
    case 'network':
    case 'timeout':
      return NO_ANSWER;
    case 'invalid_input':
      return 'Correct the value named in the message and try again.';
    case 'not_found':
      return 'It may have been removed or mistyped: refresh the list and pick it again.';
    case 'conflict':
      return 'The state changed meanwhile: refresh "My requests" to see where it stands.';
    case 'access_denied':
      return 'Your permit does not allow this (it may have expired): request access again.';
    case 'integrity':
      return 'The stored data no longer matches its digests: ask the data holder, and run `eucaim-lab checkout verify`.';
    case 'sandbox_unavailable':
      return 'Sandboxed kernels cannot start on this machine: install bubblewrap (`make system`) and enable user namespaces.';
    case 'missing_extension':
      return 'Install the server part with `pip install eucaim_jupyterlab` in the environment of the Jupyter server and restart it.';
    case 'version_mismatch':
      return 'Reinstall the extension (`make lab` or `pip install -e extensions/eucaim-jupyterlab`) and restart JupyterLab.';
    default:
      if (status === 0) {
        return NO_ANSWER;
      }
      return status >= 500
        ? 'The server hit an unexpected error: see the Jupyter server log, then retry.'
        : 'Retry; if it persists, see the Jupyter server log.';
  }
}

/** Message when the server extension is missing or of another version than the front end; null when they match. */
export function versionProblem(
  frontend: string,
  server: string | null
): { kind: string; message: string } | null {
  if (server === null) {
    return {
      kind: 'missing_extension',
      message: `The EUCAIM server extension is not running in this Jupyter server (the panel is version ${frontend}).`
    };
  }
  if (server !== frontend) {
    return {
      kind: 'version_mismatch',
      message: `The EUCAIM server extension is version ${server} but the panel is version ${frontend}.`
    };
  }
  return null;
}

// ----- virtualised list -----------------------------------------------------------------------------------------

/** Rows [start, end) to render for a scroll position, with `overscan` extra rows either side. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  total: number,
  overscan = 5
): [number, number] {
  if (total <= 0 || rowHeight <= 0) {
    return [0, 0];
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const count = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + count + overscan);
  return [Math.min(start, end), end];
}

/** Offset of the next page to fetch when rows up to `end` are shown, or null when nothing more is needed. */
export function nextPageOffset(
  loaded: number,
  total: number,
  end: number,
  pageSize: number
): number | null {
  if (loaded >= total) {
    return null;
  }
  return end + pageSize / 2 >= loaded ? loaded : null;
}
