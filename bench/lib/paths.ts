/** Where things are: the repository root, and the git-ignored cache the benches keep their data and builds in. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CACHE_DIR = join(ROOT, '.cache', 'bench');
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
