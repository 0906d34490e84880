/**
 * Progress on stderr: a redrawn bar on a terminal, a line every few percent when piped to a log.
 */
export interface ProgressBar {
  update(done: number, total: number, detail?: string): void;
  /** Prints a message above the bar without garbling it. */
  log(message: string): void;
  finish(): void;
}

const formatSeconds = (s: number) => {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};
export { formatSeconds };

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let lastPercentLogged = -1;
  let drawn = false;
  const clear = () => {
    if (tty && drawn) stream.write('\r\x1b[2K');
  };
  return {
    update(done, total, detail = '') {
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 24;
        const filled = Math.round(fraction * width);
        const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total} ${detail}`;
        stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
        drawn = true;
      } else {
        const percent = Math.floor(fraction * 10) * 10;
        if (percent > lastPercentLogged) {
          lastPercentLogged = percent;
          stream.write(`${label} ${percent}% ${done}/${total} ${detail}\n`);
        }
      }
    },
    log(message) {
      clear();
      drawn = false;
      stream.write(message + '\n');
    },
    finish() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}

/**
 * Reading progress for a file: a bar that appears only after the read has taken `delayMs` (small files
 * print nothing) and ends itself when the read is complete. Bytes show as MB.
 */
export function readingProgress(file: string, delayMs = 1000): (done: number, total: number, unit: string) => void {
  const started = Date.now();
  let bar: ProgressBar | undefined;
  let finished = false;
  return (done, total, unit) => {
    if (finished) return;
    if (!bar) {
      if (Date.now() - started < delayMs) return;
      bar = progressBar(`reading ${file}`);
    }
    if (unit === 'bytes') bar.update(Math.round(done / 2 ** 20), Math.round(total / 2 ** 20), 'MB');
    else bar.update(done, total, unit);
    if (done >= total) {
      bar.finish();
      // what follows a long read (rows grouped into series, checked, converted) takes seconds too
      bar.log(`${file}: read; grouping the rows into series`);
      finished = true;
    }
  };
}
