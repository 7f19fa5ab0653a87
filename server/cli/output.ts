// The CLI's output streams. A reader that stops early (`audit export | head -1`) closes the pipe:
// writing on gets EPIPE, which is the reader's choice, not a failure, so the process ends quietly.

export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
