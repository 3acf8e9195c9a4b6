/** Presentational parts of the EUCAIM panel: facets, the virtualised results list, details, requests, checkouts. */
import * as React from 'react';

import { ICheckout, IDatasetSummary } from './api';
import {
  FACETS,
  FacetCounts,
  FacetSelection,
  IAccessRequest,
  IDatasetRecord,
  canCheckOut,
  citation,
  facetOptions,
  fieldLabel,
  formatValue,
  statusView,
  valueLabel,
  visibleRange
} from './logic';

export const ROW_HEIGHT = 56;

export function StatusBadge(props: { status: string }): JSX.Element {
  const view = statusView(props.status);
  return (
    <span
      className={`jp-eucaim-badge jp-eucaim-badge-${view.tone}`}
      data-status={props.status}
      title={props.status}
    >
      {view.label}
    </span>
  );
}

export function ErrorBanner(props: {
  message: string;
  hint: string;
  onDismiss: () => void;
}): JSX.Element {
  return (
    <div className="jp-eucaim-error" role="alert" data-testid="eucaim-error">
      <div className="jp-eucaim-error-message">{props.message}</div>
      <div className="jp-eucaim-error-hint">{props.hint}</div>
      <button
        className="jp-eucaim-link"
        onClick={props.onDismiss}
        aria-label="Dismiss"
      >
        Dismiss
      </button>
    </div>
  );
}

export function FacetFilters(props: {
  counts: FacetCounts;
  selection: FacetSelection;
  facets: ReadonlyArray<string>;
  onToggle: (facet: string, value: string) => void;
}): JSX.Element {
  const shown = FACETS.filter(f => props.facets.includes(f.name));
  return (
    <div className="jp-eucaim-facets" data-testid="eucaim-facets">
      {shown.map(facet => {
        const options = facetOptions(props.counts, props.selection, facet.name);
        return (
          <details
            key={facet.name}
            className="jp-eucaim-facet"
            data-facet={facet.name}
            open={options.some(o => o.selected) || undefined}
          >
            <summary>{facet.label}</summary>
            {options.length === 0 ? (
              <div className="jp-eucaim-muted">No values among the matches</div>
            ) : (
              options.map(option => (
                <label
                  key={option.value}
                  className="jp-eucaim-facet-option"
                  data-value={option.value}
                >
                  <input
                    type="checkbox"
                    checked={option.selected}
                    onChange={() => props.onToggle(facet.name, option.value)}
                  />
                  <span className="jp-eucaim-facet-value">
                    {valueLabel(facet.name, option.value)}
                  </span>
                  <span className="jp-eucaim-count">{option.count}</span>
                </label>
              ))
            )}
          </details>
        );
      })}
    </div>
  );
}

/**
 * The results: only the rows in view are in the DOM (fixed row height), so 10,000 matches scroll as fast as
 * 10. `onRange` reports the rows shown so the owner can fetch the next page in time.
 */
export function ResultsList(props: {
  rows: ReadonlyArray<IDatasetSummary>;
  total: number;
  basket: ReadonlyArray<string>;
  onOpen: (id: string) => void;
  onRange: (start: number, end: number) => void;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = React.useState({ top: 0, height: 400 });
  const { rows, total, onRange } = props;

  const measure = React.useCallback(() => {
    const el = ref.current;
    if (el) {
      setScroll({ top: el.scrollTop, height: el.clientHeight || 400 });
    }
  }, []);
  React.useEffect(() => {
    measure();
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [measure]);

  const [start, end] = visibleRange(scroll.top, scroll.height, ROW_HEIGHT, total);
  React.useEffect(() => onRange(start, end), [start, end, total, onRange]);

  const items: JSX.Element[] = [];
  for (let i = start; i < end; i++) {
    const row = rows[i];
    const top = i * ROW_HEIGHT;
    if (!row) {
      items.push(
        <div key={`pending-${i}`} className="jp-eucaim-row jp-eucaim-row-pending" style={{ top }}>
          Loading…
        </div>
      );
      continue;
    }
    items.push(
      <div
        key={row.identifier}
        className="jp-eucaim-row"
        style={{ top }}
        role="listitem"
        tabIndex={0}
        data-testid="eucaim-result"
        data-id={row.identifier}
        onClick={() => props.onOpen(row.identifier)}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            props.onOpen(row.identifier);
          }
        }}
      >
        <div className="jp-eucaim-row-title" title={row.title}>
          {props.basket.includes(row.identifier) ? '🧺 ' : ''}
          {row.title}
        </div>
        <div className="jp-eucaim-row-meta">
          <span>{row.identifier}</span>
          <span>{row.modalities.join(', ') || '–'}</span>
          <span>{row.body_parts.map(b => valueLabel('body_part', b)).join(', ') || '–'}</span>
          <span>{row.subjects_count} subjects</span>
          <span>{valueLabel('access_condition', row.access_condition)}</span>
        </div>
      </div>
    );
  }
  return (
    <div
      className="jp-eucaim-results"
      ref={ref}
      role="list"
      data-testid="eucaim-results"
      onScroll={measure}
    >
      <div className="jp-eucaim-results-spacer" style={{ height: total * ROW_HEIGHT }}>
        {items}
      </div>
    </div>
  );
}

const DETAIL_ORDER = [
  'identifier', 'version', 'description', 'conditions', 'body_parts', 'modalities', 'manufacturers',
  'subjects_count', 'studies_count', 'series_count', 'files_count', 'segmentations_count', 'sex', 'age_range',
  'acquisition_period', 'annotations', 'dataset_types', 'collection_method', 'tier', 'access_rights',
  'access_condition', 'data_use_conditions', 'license', 'provider', 'data_holder', 'contact_point', 'keywords',
  'provenance', 'doi', 'landing_page', 'size_bytes', 'checksum', 'issued', 'modified'
];

export function DatasetDetails(props: {
  record: IDatasetRecord;
  inBasket: boolean;
  onBack: () => void;
  onAddToBasket: () => void;
}): JSX.Element {
  const { record } = props;
  const keys = [
    ...DETAIL_ORDER.filter(k => k in record),
    ...Object.keys(record).filter(k => !DETAIL_ORDER.includes(k) && k !== 'title')
  ];
  return (
    <div className="jp-eucaim-details" data-testid="eucaim-details" data-id={record.identifier}>
      <div className="jp-eucaim-toolbar">
        <button className="jp-eucaim-link" onClick={props.onBack}>
          ← Back to results
        </button>
      </div>
      <h3 className="jp-eucaim-details-title">{record.title}</h3>
      <div className="jp-eucaim-access-box">
        <div>
          <b>Access condition:</b> {valueLabel('access_condition', record.access_condition)}{' '}
          ({valueLabel('access_rights', record.access_rights)})
        </div>
        <div>
          <b>Licence:</b> {record.license}
        </div>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="eucaim-add-to-basket"
          disabled={props.inBasket}
          onClick={props.onAddToBasket}
        >
          {props.inBasket ? 'In the request basket' : 'Request access'}
        </button>
      </div>
      <div className="jp-eucaim-cite">
        <b>How to cite</b>
        <div className="jp-eucaim-cite-text" data-testid="eucaim-citation">
          {citation(record)}
        </div>
      </div>
      <table className="jp-eucaim-meta">
        <tbody>
          {keys.map(key => (
            <tr key={key}>
              <th>{fieldLabel(key)}</th>
              <td>{formatValue(record[key])}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function BasketView(props: {
  basket: ReadonlyArray<string>;
  purpose: string;
  busy: boolean;
  onPurpose: (text: string) => void;
  onRemove: (id: string) => void;
  onSubmit: () => void;
}): JSX.Element {
  return (
    <div className="jp-eucaim-basket" data-testid="eucaim-basket">
      {props.basket.length === 0 ? (
        <p className="jp-eucaim-muted">
          The basket is empty. Open a dataset in the catalogue and choose “Request access”.
        </p>
      ) : (
        <ul>
          {props.basket.map(id => (
            <li key={id}>
              {id}{' '}
              <button className="jp-eucaim-link" onClick={() => props.onRemove(id)}>
                remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <label className="jp-eucaim-label" htmlFor="jp-eucaim-purpose">
        Purpose (what the data will be used for)
      </label>
      <textarea
        id="jp-eucaim-purpose"
        className="jp-eucaim-purpose"
        data-testid="eucaim-purpose"
        value={props.purpose}
        rows={4}
        onChange={e => props.onPurpose(e.target.value)}
      />
      <button
        className="jp-mod-styled jp-mod-accept"
        data-testid="eucaim-submit-request"
        disabled={props.busy || !props.basket.length || !props.purpose.trim()}
        onClick={props.onSubmit}
      >
        {props.busy ? 'Submitting…' : 'Submit access request'}
      </button>
    </div>
  );
}

export function RequestsView(props: {
  requests: ReadonlyArray<IAccessRequest>;
  busy: string | null;
  polling: boolean;
  onCheckOut: (requestId: string, datasetId: string) => void;
}): JSX.Element {
  if (!props.requests.length) {
    return (
      <p className="jp-eucaim-muted" data-testid="eucaim-requests">
        No access requests yet.
      </p>
    );
  }
  return (
    <div className="jp-eucaim-requests" data-testid="eucaim-requests">
      {props.polling && (
        <div className="jp-eucaim-muted">Statuses refresh automatically while decisions are pending.</div>
      )}
      {props.requests.map(r => (
        <div key={r.request_id} className="jp-eucaim-request" data-request={r.request_id}>
          <div className="jp-eucaim-request-head">
            <b>{r.request_id}</b> <StatusBadge status={r.status} />
          </div>
          <div className="jp-eucaim-muted" title={r.purpose}>
            {r.purpose}
          </div>
          <ul>
            {r.resources.map(res => (
              <li key={res.dataset_id} data-dataset={res.dataset_id}>
                {res.dataset_id} <StatusBadge status={res.status} />
                {res.reason ? <span className="jp-eucaim-muted"> – {res.reason}</span> : null}
                {canCheckOut(res) && (
                  <button
                    className="jp-mod-styled jp-mod-accept jp-eucaim-small"
                    data-testid="eucaim-checkout"
                    disabled={props.busy !== null}
                    onClick={() => props.onCheckOut(r.request_id, res.dataset_id)}
                  >
                    {props.busy === `${r.request_id}/${res.dataset_id}` ? 'Checking out…' : 'Check out'}
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </div>
  );
}

export function CheckoutsView(props: {
  checkouts: ReadonlyArray<ICheckout>;
  busy: string | null;
  onOpenNotebook: (checkoutId: string) => void;
}): JSX.Element {
  if (!props.checkouts.length) {
    return (
      <p className="jp-eucaim-muted" data-testid="eucaim-checkouts">
        No checkouts yet. Check out an approved dataset from “My requests”.
      </p>
    );
  }
  return (
    <div className="jp-eucaim-checkouts" data-testid="eucaim-checkouts">
      {props.checkouts.map(c => (
        <div key={c.checkout_id} className="jp-eucaim-checkout" data-checkout={c.checkout_id}>
          <div>
            <b>{c.dataset_id}</b> {c.version ? `v${c.version}` : ''}
          </div>
          <div className="jp-eucaim-muted">
            {c.checkout_id}
            {c.files_count !== undefined ? ` · ${c.files_count} files` : ''}
            {c.created ? ` · ${String(c.created).slice(0, 19).replace('T', ' ')}` : ''}
          </div>
          <button
            className="jp-mod-styled jp-mod-accept jp-eucaim-small"
            data-testid="eucaim-open-notebook"
            disabled={props.busy !== null}
            onClick={() => props.onOpenNotebook(c.checkout_id)}
          >
            {props.busy === c.checkout_id ? 'Preparing…' : 'Open sandboxed notebook'}
          </button>
        </div>
      ))}
    </div>
  );
}
