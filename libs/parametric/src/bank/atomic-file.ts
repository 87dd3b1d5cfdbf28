// Small sidecar files (tree, provenance) are replaced whole: the project's atomic writer.
export { writeFileAtomic } from '@engram/inference';
