// Readable sandbox names (`quiet-otter`), so `airlock rule get quiet-otter` is easy to type.
// Pure: the random source and the set of taken names come in.
const ADJECTIVES = [
  "amber",
  "brave",
  "calm",
  "clever",
  "crisp",
  "eager",
  "fair",
  "gentle",
  "glad",
  "keen",
  "lively",
  "lucky",
  "mellow",
  "merry",
  "nimble",
  "noble",
  "plain",
  "proud",
  "quick",
  "quiet",
  "rapid",
  "sharp",
  "shy",
  "silent",
  "steady",
  "sunny",
  "swift",
  "tidy",
  "vivid",
  "witty",
];
const NOUNS = [
  "badger",
  "beaver",
  "bison",
  "crane",
  "falcon",
  "ferret",
  "finch",
  "heron",
  "ibis",
  "lynx",
  "marten",
  "mole",
  "newt",
  "otter",
  "owl",
  "panda",
  "pika",
  "quail",
  "raven",
  "robin",
  "seal",
  "shrew",
  "stoat",
  "swan",
  "tapir",
  "tern",
  "toad",
  "vole",
  "wren",
  "yak",
];

export function generateName(taken: (name: string) => boolean, random: () => number = Math.random): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
    if (!taken(name)) return name;
  }
  for (let n = 2; ; n++) {
    const name = `${pick(ADJECTIVES)}-${pick(NOUNS)}-${n}`;
    if (!taken(name)) return name;
  }
}
