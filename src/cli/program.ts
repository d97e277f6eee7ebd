/** The `alertbridge` command line (CONTRACT.md). Exit codes: 0 success, 1 invalid configuration or usage, 2 runtime failure. */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadConfigFile, summarizeConfig } from '../config/load.js';
import { retirementWarnings } from '../config/retirement.js';
import { CliExit, EXIT, loadOrExit, loggerFor } from './common.js';

// Each command's module is loaded when that command runs: `run` does not carry the simulator (its certificate
// generation) in memory, nor `validate` the daemon.

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

export function buildCli(): Command {
  const program = new Command('alertbridge')
    .description('Streams Microsoft Graph Security alerts into SIEMs through a deduplicating Redis queue')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run the daemon')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .action(async (o: { config: string }) => {
      const config = await loadOrExit(o.config);
      await (await import('./run.js')).runCommand(config, loggerFor(config));
    });

  program
    .command('validate')
    .description('check a configuration file: every problem as `path: message`')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .action(async (o: { config: string }) => {
      const res = await loadConfigFile(o.config);
      if (!res.ok) throw new CliExit(EXIT.usage, res.errors.join('\n'));
      process.stdout.write(summarizeConfig(res.config) + '\n');
      // Warnings, not errors: the config works, and legacy alerts still answer in some clouds and tenants.
      for (const line of retirementWarnings(res.config)) process.stderr.write(line + '\n');
    });

  program
    .command('demo')
    .description(
      'the embedded default: a local Redis, alertbridge, and alerts flowing to stdout (new ones through the Defender streaming path)',
    )
    .option('--rate <n>', 'new alerts per second in the simulator', positiveInt, 2)
    .option('--count <n>', 'stop once this many records were delivered (0 = until interrupted)', positiveInt, 0)
    .option('--out <file>', 'write records to this file instead of stdout')
    .action(async (o: { rate: number; count: number; out?: string }) => (await import('./demo.js')).demoCommand(o));

  program
    .command('backfill')
    .description('one-off historical pull of a Graph source (the cursor is left alone)')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('-s, --source <name>', 'graph_security source name')
    .requiredOption('--since <iso>', 'start of the window, ISO 8601 (e.g. 2026-01-01T00:00:00Z)')
    .option('--resource <name...>', 'only these resources (default: all of the source)')
    .action(async (o: { config: string; source: string; since: string; resource?: string[] }) => {
      const config = await loadOrExit(o.config);
      await (
        await import('./backfill.js')
      ).backfillCommand(config, loggerFor(config), {
        source: o.source,
        since: o.since,
        resources: o.resource,
        configPath: o.config,
      });
    });

  program
    .command('simulate')
    .description('the Graph Security API simulator on its own (HTTPS; prints where its CA certificate is)')
    .option('--port <n>', 'port (0 = a free one)', positiveInt, 8443)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--rate <n>', 'new alerts per second per tenant', positiveInt, 1)
    .option('--seed <n>', 'seed of the generated data', positiveInt, 1)
    .option('--initial <n>', 'alerts created per resource at start', positiveInt, 25)
    .option('--dir <dir>', 'where the CA certificate is written (default: a temp folder)')
    .option(
      '--graph-like',
      'list alerts_v2 and incidents like real Graph: newest first, $skip nextLinks, $top clamped, nextLink dropped past a depth (docs/simulator.md)',
    )
    .option('--max-depth <n>', 'graph-like: no nextLink once the next page starts this deep', positiveInt)
    .option('--updates-per-page <n>', 'graph-like: objects of the window updated after each page', positiveInt)
    .option(
      '--event-hub',
      "also serve the bundled Event Hubs endpoint `alertbridge demo` uses, with each new alert's AlertInfo/AlertEvidence events (for a defender_streaming source; prints its connection string)",
    )
    .action(
      async (o: {
        port: number;
        host: string;
        rate: number;
        seed: number;
        initial: number;
        dir?: string;
        graphLike?: boolean;
        maxDepth?: number;
        updatesPerPage?: number;
        eventHub?: boolean;
      }) => {
        const graphLike =
          o.graphLike || o.maxDepth !== undefined || o.updatesPerPage !== undefined
            ? {
                ...(o.maxDepth !== undefined ? { maxDepth: o.maxDepth } : {}),
                ...(o.updatesPerPage !== undefined ? { updatesPerPage: o.updatesPerPage } : {}),
              }
            : undefined;
        await (
          await import('../simulator/cli.js')
        ).simulateCommand({
          port: o.port,
          host: o.host,
          rate: o.rate,
          seed: o.seed,
          initial: o.initial,
          dir: o.dir,
          graphLike,
          eventHub: o.eventHub,
        });
      },
    );

  program
    .command('doctor')
    .description(
      'check every credential, permission, resource, sink and Redis setting: ✓/✗ with the fix; exit 0 only when all pass',
    )
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('-s, --source <name>', 'only this source (and Redis)')
    .option('-k, --sink <name>', 'only this sink (and Redis)')
    .option('--json', 'print the checks as JSON')
    .option('--timeout <ms>', 'bound of each check', positiveInt, 10_000)
    .action(async (o: { config: string; source?: string; sink?: string; json?: boolean; timeout: number }) => {
      const config = await loadOrExit(o.config);
      await (
        await import('./doctor.js')
      ).doctorCommand(config, loggerFor(config), {
        source: o.source,
        sink: o.sink,
        json: o.json,
        timeoutMs: o.timeout,
      });
    });

  const dlq = program.command('dlq').description("inspect and re-drive a sink's dead letters");
  for (const action of ['list', 'replay', 'purge'] as const) {
    dlq
      .command(action)
      .description(
        {
          list: 'print dead letters as JSON lines',
          replay: 'move dead letters back to the sink queue',
          purge: 'delete all dead letters of the sink',
        }[action],
      )
      .requiredOption('-c, --config <file>', 'YAML configuration file')
      .requiredOption('-s, --sink <name>', 'sink name')
      .option('--limit <n>', 'at most this many entries', positiveInt)
      .option('--offset <n>', 'skip this many entries (list)', positiveInt)
      .action(async (o: { config: string; sink: string; limit?: number; offset?: number }) => {
        const config = await loadOrExit(o.config);
        await (await import('./dlq.js')).dlqCommand(action, config, loggerFor(config), o);
      });
  }
  const cursor = program
    .command('cursor')
    .description('poll cursors of Graph sources: list them, or skip a window that keeps failing');
  cursor
    .command('list')
    .description(
      'print each poll cursor (watermark, failing streak, lagging providers) and its recorded skips as JSON lines',
    )
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('-s, --source <name>', 'only this graph_security source')
    .option('--resource <name>', 'only this resource')
    .action(async (o: { config: string; source?: string; resource?: string }) => {
      const config = await loadOrExit(o.config);
      await (await import('./cursor.js')).cursorCommand('list', config, loggerFor(config), o);
    });
  cursor
    .command('skip')
    .description('move a window that keeps failing past its bound; alerts updated before --to are not read (recorded)')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('-s, --source <name>', 'graph_security source name')
    .requiredOption('--resource <name>', 'resource whose window to skip (alerts_v2, incidents, …)')
    .option('--to <iso>', 'the new watermark, ISO 8601 (default: now)')
    .option('--reason <text>', 'why, kept with the record')
    .action(async (o: { config: string; source: string; resource: string; to?: string; reason?: string }) => {
      const config = await loadOrExit(o.config);
      await (await import('./cursor.js')).cursorCommand('skip', config, loggerFor(config), o);
    });
  const sync = program
    .command('sync')
    .description('write a triage change back to Graph (queued for the running daemon, as POST /sync/{source})')
    // Not requiredOption: `sync status` shares these flags, and commander hands them to this parent command.
    .option('-c, --config <file>', 'YAML configuration file (required)')
    .option('-s, --source <name>', 'graph_security source name with sync.enabled (required)')
    .option('--key <key>', 'record key ({tenant_id}/{resource}/{provider}/{id})')
    .option('--resource <name>', 'alerts_v2 or incidents (with --id, instead of --key)')
    .option('--id <id>', 'Graph object id (with --resource)')
    .option('--status <value>', 'new, inProgress, resolved (incidents also active, redirected, awaitingAction)')
    .option('--classification <value>', 'unknown, falsePositive, truePositive, informationalExpectedActivity')
    .option('--determination <value>', 'e.g. malware, phishing, notMalicious, compromisedAccount')
    .option('--assigned-to <upn>', 'assignee ("" unassigns)')
    .option('--comment <text>', 'a comment to add')
    .option('--tag <tag...>', 'incidents: the new custom tags')
    .option('--expected-revision <iso>', 'refuse the change (conflict) when the object moved past this revision')
    .option('--change-id <id>', 'your id for the change (resending it does not queue it twice)')
    .option('--wait', 'wait for the outcome (exit 2 on conflict or failure)')
    .option('--timeout <ms>', 'with --wait: how long', positiveInt, 60_000)
    .action(async (o: Record<string, unknown>) => {
      const { config, source } = syncTarget(o);
      await (await import('./sync.js')).syncCommand('change', await loadOrExit(config), { ...o, source });
    });
  sync
    .command('status')
    .description('print a change and its outcome as JSON: alertbridge sync status -c FILE -s SOURCE --id ID')
    .action(async () => {
      const o = sync.opts<Record<string, unknown>>();
      const { config, source } = syncTarget(o);
      await (await import('./sync.js')).syncCommand('status', await loadOrExit(config), { ...o, source });
    });
  const tenants = program
    .command('tenants')
    .description('customer tenants of Graph sources: their state, and the admin-consent URL for a new one');
  tenants
    .command('list')
    .description('each tenant of each graph_security source: tenant id, budget used, cursors and failures')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('-s, --source <name>', 'only this graph_security source (or one tenant, source/tenant)')
    .option('--json', 'one JSON object per tenant instead of a table')
    .action(async (o: { config: string; source?: string; json?: boolean }) => {
      const config = await loadOrExit(o.config);
      await (await import('./tenants.js')).tenantsCommand('list', config, loggerFor(config), o);
    });
  tenants
    .command('consent-url')
    .description("print the admin-consent URL a customer's administrator opens to grant the app its permissions")
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('-s, --source <name>', 'graph_security source whose app registration and cloud to use')
    .option('--tenant <name>', 'a tenant listed under the source (default: any organization, "organizations")')
    .option('--tenant-id <id>', "a new customer's tenant GUID or verified domain")
    .option('--redirect-uri <url>', 'where Entra ID sends the administrator afterwards (registered on the app)')
    .option('--state <text>', 'a value Entra ID returns with the redirect')
    .action(
      async (o: {
        config: string;
        source: string;
        tenant?: string;
        tenantId?: string;
        redirectUri?: string;
        state?: string;
      }) => {
        const config = await loadOrExit(o.config);
        await (await import('./tenants.js')).tenantsCommand('consent-url', config, loggerFor(config), o);
      },
    );
  program
    .command('status')
    .description(
      'what runs now, read from Redis: sources (last poll, lag, budget, errors), sinks (paused, backlog, dead letters)',
    )
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('--json', 'print the alertbridge.status/v1 document (docs/operations.md)')
    .action(async (o: { config: string; json?: boolean }) => {
      const config = await loadOrExit(o.config);
      await (await import('./status.js')).statusCommand(config, { json: o.json });
    });
  const subs = program.command('subscriptions').description('Graph change-notification subscriptions of a source');
  for (const action of ['list', 'delete'] as const) {
    subs
      .command(action)
      .description(
        action === 'list'
          ? "list the app's subscriptions as JSON lines (this source's marked)"
          : "delete the source's managed subscription at Graph",
      )
      .requiredOption('-c, --config <file>', 'YAML configuration file')
      .requiredOption('-s, --source <name>', 'graph_security source name')
      .action(async (o: { config: string; source: string }) => {
        const config = await loadOrExit(o.config);
        await (
          await import('./subscriptions.js')
        ).subscriptionsCommand(action, config, loggerFor(config), { source: o.source });
      });
  }
  return program;
}

function syncTarget(o: Record<string, unknown>): { config: string; source: string } {
  if (typeof o.config !== 'string') throw new CliExit(EXIT.usage, "sync: required option '-c, --config <file>'");
  if (typeof o.source !== 'string') throw new CliExit(EXIT.usage, "sync: required option '-s, --source <name>'");
  return { config: o.config, source: o.source };
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliExit) {
      process.stderr.write(err.message + '\n');
      return err.code;
    }
    process.stderr.write(`alertbridge: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.runtime;
  }
}
