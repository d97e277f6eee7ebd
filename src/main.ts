/** Entry point of the `alertbridge` bin. */
import { main } from './cli/program.js';

const code = await main(process.argv);
process.exitCode = code;
// A finished command must not be kept alive by a client's leftover timers.
setTimeout(() => process.exit(code), 500).unref();
