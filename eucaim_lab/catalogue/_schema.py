"""Catalogue tables of the local node.

``datasets`` holds one row per dataset with its full record as JSON plus the columns searches filter on;
``dataset_facets`` holds one row per (facet, value, dataset) so that a faceted query and its counts are index
look-ups; ``dataset_text`` is an FTS5 index of title, description, keywords and labels. ``series``, ``files`` and
``subjects`` describe an ingested dataset's content (the series/instance index).
"""

DDL = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    record TEXT NOT NULL,
    title TEXT NOT NULL,
    subjects_count INTEGER NOT NULL DEFAULT 0,
    studies_count INTEGER NOT NULL DEFAULT 0,
    series_count INTEGER NOT NULL DEFAULT 0,
    access_condition TEXT NOT NULL,
    data_holder TEXT NOT NULL,
    root TEXT,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_facets (
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    PRIMARY KEY (facet, value, dataset_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dataset_facets_by_dataset ON dataset_facets(dataset_id);
CREATE VIRTUAL TABLE IF NOT EXISTS dataset_text USING fts5(dataset_id UNINDEXED, text, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS series (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    series_uid TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    patient_id TEXT,
    modality TEXT,
    kind TEXT NOT NULL,
    body_part TEXT,
    manufacturer TEXT,
    series_description TEXT,
    files_count INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    referenced_series_uids TEXT NOT NULL DEFAULT '[]',
    labels TEXT NOT NULL DEFAULT '[]',
    folder TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (dataset_id, series_uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    relpath TEXT NOT NULL,
    series_uid TEXT,
    sop_uid TEXT,
    size INTEGER NOT NULL,
    sha3 TEXT NOT NULL,
    PRIMARY KEY (dataset_id, relpath)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subjects (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    eform TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (dataset_id, subject_id)
) WITHOUT ROWID
"""
