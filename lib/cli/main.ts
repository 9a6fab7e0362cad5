import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerDownloadCommand } from './download.js';
import { registerGenerateCommand } from './generate.js';
import { registerDoctor } from './doctor.js';
import { registerInfo } from './info.js';
import { registerServeCommand } from './serve.js';
import { registerWorkerCommand } from './worker.js';
import { PROGRAM_NAME, reportError } from './output.js';
import { registerSetupCommand } from './setup-cuda.js';
import { registerTokenize } from './tokenize.js';

/** Subcommands, one file each: add a command by adding its register function here. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerInfo,
  registerTokenize,
  registerDownloadCommand,
  (p) => registerGenerateCommand(p),
  registerDoctor,
  registerSetupCommand,
  registerServeCommand,
  registerWorkerCommand,
];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function buildProgram(): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Run the Ovis-Image text-to-image model')
    .version(packageVersion())
    // usage errors: one line, exit code 2; no process.exit inside commander
    .exitOverride((err) => {
      throw err.exitCode === 1 ? Object.assign(err, { exitCode: 2 }) : err;
    })
    .configureOutput({ outputError: (str, write) => write(`${PROGRAM_NAME}: ${str}`) })
    .showSuggestionAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Runs the CLI; resolves to the exit code (never throws). */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

/** Entry point of bin/ovis-image.js. */
export async function run(): Promise<void> {
  process.exitCode = await main();
}
