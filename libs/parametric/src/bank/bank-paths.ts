// The files of a bank directory (ADR 0301).
export const BANK_FILE = 'bank.bin';
export const TREE_FILE = 'tree.json';
export const PROVENANCE_FILE = 'provenance.json';
