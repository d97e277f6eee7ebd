/** Entry point of the `alertbridge` bin. */
import { isatty } from 'node:tty';
import { main } from './cli/program.js';

// Whether Node saved a terminal's mode at start (it restores it at exit): see below.
const hadTerminal = [0, 1, 2].some((fd) => isatty(fd));
const code = await main(process.argv);
process.exitCode = code;
// Stopped because its terminal hung up (closed, `tmux kill-session`): Node's exit would try to restore the terminal's
// mode and fail on the dead terminal with an assertion (node::ResetStdio, a native crash report). The daemon has
// stopped cleanly by now, so end as the signal's default action would have.
if (hadTerminal && process.listenerCount('SIGHUP') > 0 && (await import('./cli/run.js')).stopSignal() === 'SIGHUP') {
  process.removeAllListeners('SIGHUP');
  process.kill(process.pid, 'SIGHUP');
}
// A finished command must not be kept alive by a client's leftover timers.
setTimeout(() => process.exit(code), 500).unref();
