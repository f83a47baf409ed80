// `airlock completion bash|zsh|fish`: a completion script made from the command tree itself, so it
// never falls behind the commands. Subcommands complete at every level, then that command's
// options. The scripts keep the tree as data (one line per command) and walk the words typed so
// far.
import type { Command } from "commander";
import { UsageError } from "./common.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

interface Node {
  /** Subcommand names from the root, joined by "/" ("" is airlock itself). */
  path: string;
  description: string;
  subcommands: string[];
  options: string[];
}

function visible(command: Command): Command[] {
  return command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

export function commandTree(program: Command, prefix = ""): Node[] {
  const subcommands = visible(program);
  const node: Node = {
    path: prefix,
    description: program.description(),
    subcommands: subcommands.map((c) => c.name()),
    options: [...program.options.flatMap((o) => [o.long, o.short]), "--help"].filter(
      (flag): flag is string => flag !== undefined,
    ),
  };
  return [
    node,
    ...subcommands.flatMap((c) => commandTree(c, prefix === "" ? c.name() : `${prefix}/${c.name()}`)),
  ];
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

function bash(tree: Node[]): string {
  const cases = tree
    .map((n) => `    ${quote(n.path)}) words=${quote([...n.subcommands, ...n.options].join(" "))} ;;`)
    .join("\n");
  const known = tree.map((n) => n.path).filter(Boolean);
  return `# airlock completion for bash (made by \`airlock completion bash\`)
_airlock_known=" ${known.join(" ")} "
_airlock() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ $word == -* ]] && continue
    local next="\${path:+$path/}$word"
    [[ $_airlock_known == *" $next "* ]] && path="$next"
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _airlock airlock
`;
}

function zsh(tree: Node[]): string {
  const known = tree.map((n) => n.path).filter(Boolean);
  const cases = tree
    .map((n) => `    ${quote(n.path)}) choices=(${[...n.subcommands, ...n.options].map(quote).join(" ")}) ;;`)
    .join("\n");
  return `#compdef airlock
# airlock completion for zsh (made by \`airlock completion zsh\`)
_airlock() {
  local path="" word next i
  local -a known choices
  known=(${known.map(quote).join(" ")})
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    [[ $word == -* ]] && continue
    next=\${path:+$path/}$word
    (( \${known[(Ie)$next]} )) && path=$next
  done
  case $path in
${cases}
    *) choices=() ;;
  esac
  compadd -- $choices
}
(( $+functions[compdef] )) && compdef _airlock airlock
`;
}

function fish(tree: Node[]): string {
  const known = tree.map((n) => n.path).filter(Boolean);
  const lines = tree.flatMap((n) => {
    const when = `test (__airlock_path) = ${quote(n.path)}`;
    return visibleChildren(tree, n)
      .map(
        (child) =>
          `complete -c airlock -f -n ${quote(when)} -a ${quote(child.name)} -d ${quote(child.description)}`,
      )
      .concat(
        n.options
          .filter((o) => o.startsWith("--"))
          .map((o) => `complete -c airlock -n ${quote(when)} -l ${quote(o.slice(2))}`),
      );
  });
  return `# airlock completion for fish (made by \`airlock completion fish\`)
function __airlock_path
  set -l known ${known.map(quote).join(" ")}
  set -l path ""
  for word in (commandline -opc)[2..-1]
    string match -q -- '-*' $word; and continue
    set -l next $word
    test -n "$path"; and set next "$path/$word"
    contains -- $next $known; and set path $next
  end
  echo $path
end
${lines.join("\n")}
`;
}

function visibleChildren(tree: Node[], node: Node): { name: string; description: string }[] {
  return node.subcommands.map((name) => {
    const path = node.path === "" ? name : `${node.path}/${name}`;
    return { name, description: tree.find((n) => n.path === path)?.description ?? "" };
  });
}

export function completionScript(shell: string, program: Command): string {
  const tree = commandTree(program);
  const makers: Record<Shell, (t: Node[]) => string> = { bash, zsh, fish };
  if (!(SHELLS as readonly string[]).includes(shell))
    throw new UsageError(`completion: the shell must be one of ${SHELLS.join(", ")}, got "${shell}"`);
  return makers[shell as Shell](tree);
}

export function registerCompletionCommands(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish) made from the command tree")
    .argument("<shell>", SHELLS.join("|"))
    .addHelpText(
      "after",
      "\nInstall: `airlock completion bash > /etc/bash_completion.d/airlock`, or\n`airlock completion fish > ~/.config/fish/completions/airlock.fish`, or in ~/.zshrc:\n`source <(airlock completion zsh)`.",
    )
    .action((shell: string) => {
      process.stdout.write(completionScript(shell, program));
    });
}
