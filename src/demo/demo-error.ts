/** A demo that cannot go on: the CLI prints the message and exits 1. */
export class DemoError extends Error {}
