#!/usr/bin/env node
/**
 * The modgate command line. Errors end as one line on stderr and exit code 1;
 * the messages come from the registry or from here and never hold a token.
 */
import { Command } from 'commander';
import { registerLoginCommand } from './commands/login.command';
import { registerPublishCommand } from './commands/publish.command';
import { registerAuditCommand } from './commands/audit.command';

const program = new Command('modgate').description('ModGate, the private Go module registry: command line client');
registerLoginCommand(program);
registerPublishCommand(program);
registerAuditCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`modgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
