// Runs the orchestrator's state machines on aws-local-stepfunctions, an ASL interpreter written
// independently of moto's (tests/portability/test_local_stepfunctions.py drives it).
//
//   node local_sfn_driver.cjs SETUP.json
//
// SETUP.json: {"machines": {"<name>": <definition with Lambda ARNs filled in>}, "lambda": URL}.
// Lambda tasks go through the package's own Lambda client (the AWS SDK for JavaScript v3) to the
// Invoke API at URL (AWS_ENDPOINT_URL_LAMBDA, set by the test). The package runs no service
// integrations and has no task tokens: a `...:lambda:invoke.waitForTaskToken` Task is overridden
// (taskResourceLocalHandlers, the package's documented override) by a handler that invokes the
// function with the Payload, as Step Functions does, and then waits until the test relays a
// SendTaskSuccess / SendTaskFailure for the token (`$$.Task.Token`, from the run's Context Object).
//
// One JSON object per line. stdin: {"cmd": "run", "id", "machine", "input"},
// {"cmd": "answer", "token", "output"} or {"cmd": "answer", "token", "error", "cause"},
// {"cmd": "stop", "id"}, {"cmd": "exit"}. stdout: {"event": "ready"},
// {"event": "state", "id", "name", "type"} (each state entered),
// {"event": "log", "id", "type", "name", "error"} (retries, catches, failures),
// {"event": "token", "id", "token"} (a token is parked), {"event": "done", "id", "status",
// "output" | "error", "cause"}.
'use strict';

// The package wants Node 22 (Promise.withResolvers, Task states' timeout race); Node 20 lacks it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const fs = require('node:fs');
const readline = require('node:readline');
const { StateMachine } = require('aws-local-stepfunctions');

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const CALLBACK = /:lambda:invoke\.waitForTaskToken$/;

function send(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function namedError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

const tokens = new Map(); // token -> {resolve, reject} of the Task waiting for it
const early = new Map(); // token -> answer that arrived before its Task parked it
const executions = new Map(); // id -> execution

function waitForToken(token) {
  const answer = early.get(token);
  if (answer !== undefined) {
    early.delete(token);
    return answer.error ? Promise.reject(answer.error) : Promise.resolve(answer.output);
  }
  const { promise, resolve, reject } = Promise.withResolvers();
  tokens.set(token, { resolve, reject });
  return promise;
}

async function invoke(functionName, payload) {
  const url = `${setup.lambda}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(payload) });
  const body = await response.text();
  const result = body ? JSON.parse(body) : null;
  if (!response.ok) {
    throw namedError(`Lambda.${response.headers.get('x-amzn-ErrorType') || 'ServiceException'}`, body);
  }
  if (response.headers.get('x-amz-function-error')) {
    throw namedError(result.errorType, result.errorMessage);
  }
  return result;
}

function callbackHandlers(definition, id) {
  const handlers = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== 'Task' || !CALLBACK.test(state.Resource)) continue;
    handlers[name] = async (input) => {
      const token = input.Payload.token;
      const answered = waitForToken(token); // before the function runs: it may answer at once
      send({ event: 'token', id, token });
      await invoke(input.FunctionName, input.Payload);
      return answered;
    };
  }
  return handlers;
}

function run({ id, machine, input }) {
  const definition = setup.machines[machine];
  const stateMachine = new StateMachine(definition, {
    validationOptions: { checkPaths: true, checkArn: true },
  });
  const execution = stateMachine.run(input, {
    overrides: { taskResourceLocalHandlers: callbackHandlers(definition, id) },
    context: {
      Execution: { Id: `local:${machine}:${id}`, Name: id },
      StateMachine: { Name: machine },
      Task: { Token: `${id}#token` },
    },
  });
  executions.set(id, execution);
  (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') {
        send({ event: 'state', id, name: event.state.name, type: event.state.type });
      } else if (['StateRetried', 'StateCaught', 'StateFailed'].includes(event.type)) {
        send({ event: 'log', id, type: event.type, name: event.state.name, error: event.Error });
      }
    }
  })().catch((error) => send({ event: 'log', id, type: 'EventLogError', error: String(error) }));
  execution.result.then(
    (output) => send({ event: 'done', id, status: 'SUCCEEDED', output }),
    (error) => {
      const inner = error.cause instanceof Error ? error.cause : error;
      const aborted = error.name === 'ExecutionAbortedError';
      send({
        event: 'done',
        id,
        status: aborted ? 'ABORTED' : 'FAILED',
        error: inner.name,
        cause: String(inner.cause ?? inner.message ?? ''),
      });
    },
  );
}

function answer({ token, output, error, cause }) {
  const settled = error ? { error: namedError(error, cause || '') } : { output };
  const waiting = tokens.get(token);
  if (waiting === undefined) {
    early.set(token, settled);
    return;
  }
  tokens.delete(token);
  if (settled.error) waiting.reject(settled.error);
  else waiting.resolve(settled.output);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  try {
    if (message.cmd === 'run') run(message);
    else if (message.cmd === 'answer') answer(message);
    else if (message.cmd === 'stop') executions.get(message.id)?.abort();
    else if (message.cmd === 'exit') process.exit(0);
  } catch (error) {
    send({ event: 'done', id: message.id, status: 'FAILED', error: error.name, cause: String(error.message) });
  }
});
lines.on('close', () => process.exit(0));
send({ event: 'ready' });
