import {
  IAccessRequest,
  buildQuery,
  canCheckOut,
  citation,
  errorHint,
  facetOptions,
  formatValue,
  needsPolling,
  nextPageOffset,
  statusChanges,
  statusView,
  toggleFacet,
  versionProblem,
  visibleRange
} from '../logic';

describe('buildQuery', () => {
  it('sends text, one parameter per facet value and the page', () => {
    const q = new URLSearchParams(
      buildQuery({ text: '  lung   CT ', facets: { modality: ['MR', 'CT'], condition: ['lung-cancer'] } }, 100, 25)
    );
    expect(q.get('text')).toBe('lung CT');
    expect(q.getAll('modality')).toEqual(['CT', 'MR']);
    expect(q.getAll('condition')).toEqual(['lung-cancer']);
    expect(q.get('offset')).toBe('100');
    expect(q.get('limit')).toBe('25');
  });

  it('leaves out empty text and a zero offset', () => {
    const q = new URLSearchParams(buildQuery({ text: '   ', facets: {} }));
    expect(q.has('text')).toBe(false);
    expect(q.has('offset')).toBe(false);
    expect(q.get('limit')).toBe('50');
  });

  it('gives equal strings for equal searches whatever the order of selection', () => {
    const a = buildQuery({ text: 'x', facets: { modality: ['CT', 'MR'], body_part: ['lung'] } });
    const b = buildQuery({ text: 'x', facets: { body_part: ['lung'], modality: ['MR', 'CT'] } });
    expect(a).toBe(b);
  });

  it('escapes values that are not URL-safe', () => {
    const query = buildQuery({ text: 'a&b=c', facets: { provider: ['St. Anne & Co'] } });
    expect(query).not.toContain('a&b=c');
    expect(new URLSearchParams(query).get('text')).toBe('a&b=c');
    expect(new URLSearchParams(query).get('provider')).toBe('St. Anne & Co');
  });
});

describe('facet state', () => {
  it('toggles values on and off and drops empty facets', () => {
    let s = toggleFacet({}, 'modality', 'CT');
    s = toggleFacet(s, 'modality', 'MR');
    expect(s.modality).toEqual(['CT', 'MR']);
    s = toggleFacet(s, 'modality', 'CT');
    expect(s.modality).toEqual(['MR']);
    s = toggleFacet(s, 'modality', 'MR');
    expect('modality' in s).toBe(false);
  });

  it('does not modify the selection it was given', () => {
    const before = { modality: ['CT'] };
    toggleFacet(before, 'modality', 'MR');
    expect(before).toEqual({ modality: ['CT'] });
  });

  it('lists selected values first, even with no matches, then by count', () => {
    const options = facetOptions(
      { modality: { MR: 3, PT: 7, US: 3 } },
      { modality: ['CT'] },
      'modality'
    );
    expect(options.map(o => [o.value, o.count, o.selected])).toEqual([
      ['CT', 0, true],
      ['PT', 7, false],
      ['MR', 3, false],
      ['US', 3, false]
    ]);
  });

  it('caps the unselected options', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      counts[`v${i}`] = i;
    }
    const options = facetOptions({ provider: counts }, {}, 'provider', 5);
    expect(options.map(o => o.value)).toEqual(['v29', 'v28', 'v27', 'v26', 'v25']);
  });
});

describe('status rendering', () => {
  it('labels Negotiator states and says which are final', () => {
    expect(statusView('RESOURCE_MADE_AVAILABLE')).toEqual({ label: 'Approved', tone: 'ok', final: true });
    expect(statusView('ACCESS_CONDITIONS_INDICATED').final).toBe(false);
    expect(statusView('RESOURCE_DECLINED').tone).toBe('bad');
  });

  it('renders an unknown state readably instead of failing', () => {
    expect(statusView('SOMETHING_NEW')).toEqual({ label: 'Something new', tone: 'neutral', final: false });
  });

  const request = (status: string, res: string, permit: string | null = null): IAccessRequest => ({
    request_id: 'REQ-1',
    user: 'u',
    purpose: 'p',
    status,
    created: '',
    updated: '',
    resources: [
      { dataset_id: 'ds', version: '1.0.0', holder: 'h', access_condition: 'DOWNLOAD', status: res, permit_id: permit }
    ]
  });

  it('keeps polling while a decision is pending and stops when all are final', () => {
    expect(needsPolling([request('UNDER_REVIEW', 'ACCESS_CONDITIONS_INDICATED')])).toBe(true);
    expect(needsPolling([request('CONCLUDED', 'RESOURCE_MADE_AVAILABLE', 'P-1')])).toBe(false);
    expect(needsPolling([])).toBe(false);
  });

  it('reports the resources whose status changed', () => {
    const changes = statusChanges(
      [request('UNDER_REVIEW', 'ACCESS_CONDITIONS_INDICATED')],
      [request('CONCLUDED', 'RESOURCE_MADE_AVAILABLE', 'P-1')]
    );
    expect([...changes.entries()]).toEqual([
      ['REQ-1/ds', ['ACCESS_CONDITIONS_INDICATED', 'RESOURCE_MADE_AVAILABLE']]
    ]);
  });

  it('offers a checkout only for an approved resource with a permit', () => {
    expect(canCheckOut(request('CONCLUDED', 'RESOURCE_MADE_AVAILABLE', 'P-1').resources[0])).toBe(true);
    expect(canCheckOut(request('CONCLUDED', 'RESOURCE_MADE_AVAILABLE').resources[0])).toBe(false);
    expect(canCheckOut(request('DECLINED', 'RESOURCE_DECLINED', 'P-1').resources[0])).toBe(false);
  });
});

describe('details', () => {
  const record = {
    identifier: 'lung-ct-1',
    title: 'Lung CT cohort.',
    description: 'd',
    version: '1.2.0',
    provider: 'Hospital A',
    data_holder: 'holder-a',
    license: 'CC-BY-4.0',
    access_condition: 'IN_SITU_PROCESSING',
    access_rights: 'RESTRICTED',
    issued: '2024-03-01T00:00:00'
  };

  it('cites provider, year, title, version and the id when there is no DOI', () => {
    expect(citation(record)).toBe(
      'Hospital A (2024). Lung CT cohort (version 1.2.0) [Data set]. EUCAIM. Dataset id: lung-ct-1.'
    );
  });

  it('cites a DOI as a resolvable link, and n.d. without an issue date', () => {
    const text = citation({ ...record, issued: null, doi: 'https://doi.org/10.1234/abc' });
    expect(text).toContain('(n.d.)');
    expect(text.endsWith('https://doi.org/10.1234/abc')).toBe(true);
  });

  it('formats lists, conditions and nested objects', () => {
    expect(formatValue([{ id: 'lung-cancer', code: 'C34', label: 'Lung' }])).toBe('Lung (C34)');
    expect(formatValue({ min: 40, max: null, median: 61 })).toBe('min: 40; median: 61');
    expect(formatValue([])).toBe('–');
    expect(formatValue(null)).toBe('–');
  });
});

describe('errors and versions', () => {
  it('tells the user what to do when the server went away', () => {
    expect(errorHint(0, 'timeout')).toMatch(/does not answer/);
    expect(errorHint(409, 'conflict')).toMatch(/My requests/);
    expect(errorHint(503, 'sandbox_unavailable')).toMatch(/bubblewrap/);
    expect(errorHint(0, 'something')).toMatch(/does not answer/);
  });

  it('gives the advice of the error kind even when no HTTP status goes with it', () => {
    expect(errorHint(0, 'version_mismatch')).toMatch(/Reinstall/);
    expect(errorHint(0, 'missing_extension')).toMatch(/pip install eucaim_jupyterlab/);
  });

  it('detects a missing or mismatched server extension', () => {
    expect(versionProblem('0.1.0', '0.1.0')).toBeNull();
    expect(versionProblem('0.1.0', null)?.kind).toBe('missing_extension');
    expect(versionProblem('0.1.0', '0.2.0')?.message).toContain('0.2.0');
  });
});

describe('virtualised list', () => {
  it('renders only the rows in view plus overscan', () => {
    expect(visibleRange(0, 560, 56, 10000, 5)).toEqual([0, 16]);
    expect(visibleRange(56 * 5000, 560, 56, 10000, 5)).toEqual([4995, 5016]);
    expect(visibleRange(56 * 9999, 560, 56, 10000, 5)).toEqual([9994, 10000]);
    expect(visibleRange(0, 560, 56, 0)).toEqual([0, 0]);
  });

  it('asks for the next page before the loaded rows run out, and never beyond the total', () => {
    expect(nextPageOffset(50, 10000, 10, 50)).toBeNull();
    expect(nextPageOffset(50, 10000, 30, 50)).toBe(50);
    expect(nextPageOffset(10000, 10000, 10000, 50)).toBeNull();
  });
});
