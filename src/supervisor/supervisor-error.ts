// A run the supervisor refuses or cannot start: its message is the sentence `airlock run` prints.
export class SupervisorError extends Error {}
