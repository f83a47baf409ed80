// POSIX single-quoting for the command lines Airlock writes (the overlay wrapper's script, the
// hook's `airlock gate contain` rewrite). Plain words stay as they are, for readable commands.
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
