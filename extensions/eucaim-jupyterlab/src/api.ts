/** Typed calls of the server extension's REST API (`/eucaim/...`), all through {@link requestAPI}. */
import {
  FacetCounts,
  IAccessRequest,
  IDatasetRecord,
  ISearchState,
  buildQuery
} from './logic';
import { requestAPI } from './request';

/** One row of the catalogue search (columns of eucaim_lab's `Catalogue.search`). */
export interface IDatasetSummary {
  identifier: string;
  title: string;
  version: string;
  conditions: string[];
  body_parts: string[];
  modalities: string[];
  manufacturers: string[];
  subjects_count: number;
  studies_count: number;
  series_count: number;
  access_condition: string;
  provider: string;
  license: string;
}

export interface ISearchResponse {
  results: IDatasetSummary[];
  facets: FacetCounts;
  total: number;
  offset: number;
  limit: number;
  took_ms: number;
}

export interface IVersionResponse {
  version: string;
  eucaim_lab: string;
  user: string;
}

/** A checkout as listed by the server: at least its id and dataset. */
export interface ICheckout {
  checkout_id: string;
  dataset_id: string;
  request_id?: string;
  version?: string;
  created?: string;
  files_count?: number;
  [key: string]: unknown;
}

export interface INotebookResponse {
  path: string;
  kernel_name: string;
  checkout_id: string;
  created: boolean;
}

export function fetchVersion(): Promise<IVersionResponse> {
  return requestAPI<IVersionResponse>('version');
}

export function search(
  state: ISearchState,
  offset: number,
  limit: number,
  signal?: AbortSignal
): Promise<ISearchResponse> {
  return requestAPI<ISearchResponse>(
    `catalogue?${buildQuery(state, offset, limit)}`,
    { signal }
  );
}

export function fetchDataset(id: string): Promise<IDatasetRecord> {
  return requestAPI<IDatasetRecord>(`catalogue/${encodeURIComponent(id)}`);
}

export async function fetchRequests(): Promise<IAccessRequest[]> {
  return (await requestAPI<{ requests: IAccessRequest[] }>('access/requests'))
    .requests;
}

export function createRequest(
  datasetIds: string[],
  purpose: string
): Promise<IAccessRequest> {
  return requestAPI<IAccessRequest>('access/requests', {
    method: 'POST',
    body: JSON.stringify({ dataset_ids: datasetIds, purpose })
  });
}

export async function fetchCheckouts(): Promise<ICheckout[]> {
  return (await requestAPI<{ checkouts: ICheckout[] }>('checkouts')).checkouts;
}

export async function createCheckout(
  requestId: string,
  datasetId: string
): Promise<ICheckout> {
  // materialising a large dataset may take a while: a longer time limit than other calls
  const made = await requestAPI<{ checkouts: ICheckout[] }>(
    'checkouts',
    {
      method: 'POST',
      body: JSON.stringify({ request_id: requestId, dataset_id: datasetId })
    },
    120000
  );
  return made.checkouts[0];
}

export function createNotebook(checkoutId: string): Promise<INotebookResponse> {
  return requestAPI<INotebookResponse>(
    `checkouts/${encodeURIComponent(checkoutId)}/notebook`,
    { method: 'POST', body: '{}' },
    60000
  );
}
