// Types of proc-holders.cjs (plain CommonJS, loaded as it is by the reader thread too).

export interface Holder {
  pid: number;
  /** /proc directory to read it through: the process's, or a live thread's when its leader exited. */
  dir: string;
  exe: string;
}

export function listDir(path: string): string[] | null;
export function exePath(dir: string): string | null;
export function holdersAmong(proc: string, pids: readonly number[], link: string): Holder[] | string;
