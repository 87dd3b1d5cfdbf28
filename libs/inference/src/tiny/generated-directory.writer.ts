// Where the tiny generators write. A new directory is written beside its final place and
// renamed into it, so a crash never leaves half a model. An existing directory is used only
// when it is empty or holds nothing but an earlier output of the same generator: anything
// else there is the user's and is refused, never deleted (`--out .` must not wipe the
// working directory, nor `--out ~/models/qwen` a download).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The compiled-graph cache the runtime keeps inside a model directory (language-model.ts): it belongs to the weights it was built from. */
const COMPILED_CACHE = '.engram';
const TMP_PREFIX = '.tmp-tiny-';
/** Written into every generated directory: only a directory that has it is an earlier output (same names are not enough). */
export const GENERATED_MARKER = '.engram-generated';

/**
 * Runs `write(dir)` into a staging directory, then moves the result to `out`. `ownFiles`
 * are the names `write` creates; an existing `out` holding any other entry is refused with
 * an error that says what to do.
 */
export function writeGeneratedDirectory(out: string, ownFiles: readonly string[], write: (dir: string) => void): void {
  const writeMarked = (dir: string): void => {
    write(dir);
    writeFileSync(join(dir, GENERATED_MARKER), 'written by an engram generator; a later run may replace this directory\n');
  };
  const own = [...ownFiles, GENERATED_MARKER];
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
    staged(tmp, writeMarked, () => renameSync(tmp, out));
    return;
  }
  if (!statSync(out).isDirectory()) throw new Error(`${out} is a file, not a directory: choose a new or empty directory for the model`);
  const entries = readdirSync(out).filter((name) => !name.startsWith(TMP_PREFIX));
  // Same file names are not enough (a downloaded model has config.json and model.safetensors too): only the marker says it is ours.
  const foreign = entries.length > 0 && !entries.includes(GENERATED_MARKER) ? entries : entries.filter((name) => !own.includes(name) && name !== COMPILED_CACHE);
  if (foreign.length) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, … (${foreign.length} entries)` : '');
    throw new Error(
      `${out} is not empty (it holds ${shown}): a tiny model is written only into a new or empty directory, or over an earlier tiny model there; ` +
        'choose another directory (nothing was changed)',
    );
  }
  // Staged inside `out` (its parent may not be writable, e.g. `--out .`), then moved in file by file.
  const tmp = join(out, `${TMP_PREFIX}${process.pid}-${Date.now()}`);
  staged(tmp, writeMarked, () => {
    rmSync(join(out, COMPILED_CACHE), { recursive: true, force: true }); // compiled from the weights being replaced
    for (const name of own) {
      if (existsSync(join(tmp, name))) renameSync(join(tmp, name), join(out, name));
      else rmSync(join(out, name), { force: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  });
}

function staged(tmp: string, write: (dir: string) => void, commit: () => void): void {
  mkdirSync(tmp, { recursive: true });
  try {
    write(tmp);
    commit();
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
