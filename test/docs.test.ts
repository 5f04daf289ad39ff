/**
 * The repository is self-contained for its users:
 * (a) every relative Markdown link, and every `*.md` path mentioned in a committed Markdown file or TypeScript
 *     source, names a file (or folder) that is committed here;
 * (b) no committed text file holds an absolute path of a build machine: the checkout's own absolute path, or a
 *     path under `/work`, `/root`, `/home/<name>`, `/Users/<name>`, `/mnt`, `/opt`, `/data` or a Windows user
 *     folder (drive, then `Users`). This scans every line, comments and shell scripts included; scratch folders
 *     under `/tmp` in scripts are not matched here (but see (c));
 * (c) no path field names an absolute path other than the system locations of `ALLOWED_ABSOLUTE_PATHS`: a path
 *     field is a string value of a JSON file, a value of a YAML file (comments aside), a string literal of a
 *     TypeScript or JavaScript source (comments aside), or Markdown text outside fenced code blocks (a fenced block
 *     is a command the reader adapts, where `--out /tmp/x` is the reader's choice). Every absolute path under a
 *     file-system root counts (`/tmp`, `/mnt`, `/data`, `/opt`, `/home`, `/root`, `/work`, `/usr`, `/var`, …);
 * (d) no `.ts`, `.js`, `.mjs`, `.yaml` or `.md` file cites what users cannot read: an issue of the project's
 *     tracker by number, the internal notes work was planned in, or documents outside the repository
 *     (`BANNED_PHRASES`); another project's public issue, cited as `owner/name issue #N`, is fine. Files listed in `NOT_YET_REWORDED` still do; each must go on doing so, so that the
 *     list only shrinks.
 *
 * How a mentioned path resolves:
 * - a Markdown link target, relative to the linking file (or to the repository root when it starts with a
 *   slash); `http(s):`, `mailto:` and `#anchor` targets are ignored, and so are anchors and queries on a path;
 * - a path with a folder (`docs/spec/decent-bva.md`, `../README.md`), relative to the mentioning file or to the
 *   repository root (code comments cite paths from the root);
 * - a bare file name (`decent-bva.md`, the convention of code comments citing a spec), when some committed file
 *   has that name.
 * Not checked, because they do not name a file of this repository: paths under `node_modules/`; placeholders
 * whose folder is written in capitals (`DIR/report.md`); paths that directly follow a GitHub repository
 * `owner/name` whose owner is not a folder of this repository (LPD-EPFL/byzfl `byzfl/benchmark/README.md`).
 *
 * The files are those `git ls-files` lists (committed or staged; node_modules, dist and .git never are); their
 * text is read from the working tree. Binary files and files over 2 MB are not scanned for absolute paths or
 * phrases.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A problem found in one line of one file. */
export interface Finding {
  /** Path relative to the repository root, with `/` separators. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** What was wrong. */
  problem: string;
}

/** Files larger than this are not scanned for absolute paths. */
export const MAX_SCAN_BYTES = 2 * 1024 * 1024;

/** The files of the git work tree at `root`, as `git ls-files` lists them (relative, `/`-separated). */
export function listRepoFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\0').filter((f) => f !== '');
}

/** Lookup tables over a file list: the files, every folder that holds one, and the files by name. */
export interface RepoIndex {
  files: ReadonlySet<string>;
  dirs: ReadonlySet<string>;
  basenames: ReadonlySet<string>;
  /** First path segments (top-level files and folders). */
  topLevel: ReadonlySet<string>;
}

/** Builds the lookup tables of `files`. */
export function indexFiles(files: readonly string[]): RepoIndex {
  const dirs = new Set<string>();
  const basenames = new Set<string>();
  const topLevel = new Set<string>();
  for (const f of files) {
    basenames.add(path.posix.basename(f));
    topLevel.add(f.split('/')[0]!);
    for (let d = path.posix.dirname(f); d !== '.' && d !== '/' && d !== ''; d = path.posix.dirname(d)) dirs.add(d);
  }
  return { files: new Set(files), dirs, basenames, topLevel };
}

/** True when `rel` (relative to the root, already normalised) is a committed file or a folder holding one. */
function existsInRepo(rel: string, index: RepoIndex): boolean {
  if (rel === '' || rel === '.' || rel.startsWith('../') || rel === '..' || path.posix.isAbsolute(rel)) return false;
  const clean = rel.replace(/\/+$/, '');
  return index.files.has(clean) || index.dirs.has(clean);
}

/** `target` resolved against the folder of `fromFile`, normalised, relative to the root. */
function relativeTo(fromFile: string, target: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), target));
}

// A `*.md` path: not preceded by a path character (so URLs and absolute paths never start a match), made of
// path segments, ending in `.md` with no further name character.
const MD_PATH = /(?<![\w./~@%+-])((?:[\w.+@-]+\/)*[\w.+@-]*[\w+@-]\.md)(?![\w/+@-])/g;
// A GitHub repository `owner/name` right before a mention (with spaces, punctuation or a backtick between).
const REPO_BEFORE = /(?:^|[^\w./-])([A-Za-z0-9][\w.-]*)\/[A-Za-z0-9][\w.-]*[\s,:;(`'"]*$/;
// A placeholder folder written in capitals: DIR, RUN_DIR, OUT.
const PLACEHOLDER = /^[A-Z][A-Z0-9_]*$/;

/** A line without its leading comment or quote marker (` * `, `//`, `#`, `>`), so wrapped text joins up. */
function stripLeader(line: string): string {
  return line.replace(/^\s*(?:\*|\/\/|#|>)?\s*/, '');
}

/** The `*.md` paths mentioned in `text` that do not resolve to a committed file (see the header for the rules). */
export function brokenMarkdownMentions(file: string, text: string, index: RepoIndex): Finding[] {
  const out: Finding[] = [];
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    for (const m of lineText.matchAll(MD_PATH)) {
      const mention = m[1]!;
      const segments = mention.split('/');
      if (segments.includes('node_modules')) continue;
      if (segments.slice(0, -1).some((s) => PLACEHOLDER.test(s))) continue;
      // The repository may end the previous line when a comment or paragraph wraps before the path.
      const prefix = stripLeader(lineText.slice(0, m.index));
      const joined = i > 0 && /^[\s`'"(]*$/.test(prefix) ? `${stripLeader(lines[i - 1]!)} ${prefix}` : prefix;
      const before = REPO_BEFORE.exec(joined);
      if (before !== null && !index.topLevel.has(before[1]!)) continue;
      const resolves =
        segments.length === 1
          ? index.basenames.has(mention) || existsInRepo(relativeTo(file, mention), index)
          : existsInRepo(relativeTo(file, mention), index) || existsInRepo(path.posix.normalize(mention), index);
      if (!resolves) out.push({ file, line: i + 1, problem: `mentions ${mention}, which is not a file of this repository` });
    }
  });
  return out;
}

/** Markdown text with fenced code blocks and inline code spans blanked (line numbers kept). */
function withoutCode(text: string): string {
  let fenced = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line.replace(/(`+)[\s\S]*?\1/g, (s) => ' '.repeat(s.length));
    })
    .join('\n');
}

// `[text](target)` or `![alt](target "title")`: the target has no spaces (or is wrapped in <>), then `)` or a title.
const MD_LINK = /!?\[[^\]]*\]\(\s*(<[^>]+>|[^\s()]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;

/** The relative links of a Markdown file that do not resolve to a committed file or folder. */
export function brokenMarkdownLinks(file: string, text: string, index: RepoIndex): Finding[] {
  const out: Finding[] = [];
  withoutCode(text)
    .split('\n')
    .forEach((lineText, i) => {
      for (const m of lineText.matchAll(MD_LINK)) {
        let target = m[1]!.replace(/^<|>$/g, '');
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
        target = target.replace(/[#?].*$/, '');
        try {
          target = decodeURIComponent(target);
        } catch {
          // Keep the raw target; it will be reported if it does not resolve.
        }
        if (target.split('/').includes('node_modules')) continue;
        const rel = target.startsWith('/') ? path.posix.normalize(target.slice(1)) : relativeTo(file, target);
        if (!existsInRepo(rel, index)) out.push({ file, line: i + 1, problem: `links to ${m[1]}, which is not a file or folder of this repository` });
      }
    });
  return out;
}

/**
 * Absolute paths of a build machine in `text`, one finding per kind per line: `repoRoot` itself (the checkout's
 * absolute path), and paths that start under `/work`, `/root`, `/home/<name>`, `/Users/<name>`, `/mnt`, `/opt`,
 * `/data` or a Windows user folder (a drive letter, a colon, then `Users` between backslashes, doubled backslashes as in JSON, or slashes).
 * A match must start a path: a `work` folder inside `/tmp`, or a `root` folder under `$dir`, is not one.
 */
export function absolutePathFindings(file: string, text: string, repoRoot: string): Finding[] {
  const out: Finding[] = [];
  const unix = /(?<![\w.~$}-])(\/work\/|\/home\/[\w.-]+\/|\/root\/|\/Users\/[\w.-]+\/|\/mnt\/|\/opt\/|\/data\/)/;
  const windows = /(?<![\w])[A-Za-z]:(?:\\{1,2}|\/)Users(?:\\{1,2}|\/)/;
  const root = repoRoot.replace(/[\\/]+$/, '');
  text.split('\n').forEach((lineText, i) => {
    const problems: string[] = [];
    if (root.length > 1 && lineText.includes(root)) problems.push(`holds the checkout's own path ${root}`);
    const u = unix.exec(lineText);
    if (u !== null) problems.push(`holds the build-machine path ${u[1]}…`);
    const w = windows.exec(lineText);
    if (w !== null) problems.push(`holds the build-machine path ${w[0]}…`);
    for (const problem of problems) out.push({ file, line: i + 1, problem });
  });
  return out;
}

/** The roots of absolute file-system paths: the usual Unix ones, and the mount and home points of build machines. */
const FS_ROOTS = [
  'bin',
  'boot',
  'data',
  'dev',
  'etc',
  'home',
  'lib',
  'lib32',
  'lib64',
  'media',
  'mnt',
  'nix',
  'opt',
  'private',
  'proc',
  'root',
  'run',
  'sbin',
  'scratch',
  'snap',
  'srv',
  'sys',
  'tmp',
  'Users',
  'usr',
  'var',
  'Volumes',
  'work',
  'workspace',
];

/**
 * The absolute paths a path field may name, each a system location that is the same on every machine, never a
 * build machine's: an entry ending in `/` allows everything under it, any other entry that path only.
 */
export const ALLOWED_ABSOLUTE_PATHS: readonly string[] = [
  // Debian's dataset packages: the default Fashion-MNIST directory (shared/data/registry.ts).
  '/usr/share/datasets/',
  // Debian's chromium, which the browser tests and benchmark drive.
  '/usr/bin/chromium',
  // Debian's Python (with python3-torch), which runs the PyTorch cross-checks.
  '/usr/bin/python3',
  // The system prefix searched for Node's headers when the native kernels are built.
  '/usr',
  // Linux's process and device files (CPU time of a process, the null device).
  '/proc/',
  '/dev/null',
  // Where the WebGPU loader looks for Vulkan drivers and their libraries (shared/compute/webgpu/backend.ts).
  '/etc/vulkan/icd.d',
  '/usr/share/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/local/etc/vulkan/icd.d',
  '/usr/local/nvidia/share/vulkan/icd.d/',
  '/usr/lib',
  '/usr/lib64',
  '/lib64',
  '/usr/local/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
];

// An absolute path under one of FS_ROOTS, where a path can start: not inside a word, a relative path (`a/tmp`), a
// URL (`http://h/usr`, `file:///tmp`) or after an expansion (`$dir/tmp`, `${dir}/tmp`).
const ABSOLUTE_PATH = new RegExp(`(?<![\\w.~$}/:@-])/(?:${FS_ROOTS.join('|')})(?![\\w@+-])(?:/[\\w.@+-]*)*`, 'g');

/** Whether `found` (trailing slashes and dots dropped) is one of `ALLOWED_ABSOLUTE_PATHS`, or under one ending in `/`. */
export function allowedAbsolutePath(found: string): boolean {
  const p = found.replace(/[/.]+$/, '');
  return ALLOWED_ABSOLUTE_PATHS.some((a) => p === a.replace(/\/$/, '') || (a.endsWith('/') && p.startsWith(a)));
}

/** A path-field value and the 1-based line it starts on. */
export interface FieldValue {
  value: string;
  line: number;
}

const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/**
 * The string literals of a TypeScript or JavaScript source, comments and regular-expression literals skipped:
 * quoted strings as written (escapes kept), and each template literal's text with its `${…}` expressions replaced
 * by `${…}`. A `/` starts a regular expression where a value cannot stand (after an operator, an opening bracket,
 * a comma or a keyword such as `return`), and divides otherwise.
 */
export function stringLiterals(text: string): FieldValue[] {
  const out: FieldValue[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  // The last significant token outside literals and comments: a punctuation character, a word, or 'value'.
  let prev = '';
  // Open template literals (innermost last), each with its text so far and the brace depth of its open `${`.
  const templates: { parts: string[]; line: number; depth: number }[] = [];
  if (text.startsWith('#!')) i = text.indexOf('\n') < 0 ? n : text.indexOf('\n');

  /** Reads template text from `i` up to its closing backtick (recording the literal) or its next `${`. */
  const templateChunk = (): void => {
    const t = templates[templates.length - 1]!;
    let chunk = '';
    while (i < n) {
      const c = text[i]!;
      if (c === '\\') {
        chunk += text.slice(i, i + 2);
        if (text[i + 1] === '\n') line++;
        i += 2;
      } else if (c === '`') {
        i++;
        t.parts.push(chunk);
        out.push({ value: t.parts.join('${…}'), line: t.line });
        templates.pop();
        prev = 'value';
        return;
      } else if (c === '$' && text[i + 1] === '{') {
        i += 2;
        t.parts.push(chunk);
        t.depth = 0;
        prev = '(';
        return;
      } else {
        if (c === '\n') line++;
        chunk += c;
        i++;
      }
    }
  };

  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (text[k] === '\n') line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out.push({ value: text.slice(i + 1, j), line });
      i = j + 1;
      prev = 'value';
    } else if (c === '`') {
      i++;
      templates.push({ parts: [], line, depth: 0 });
      templateChunk();
    } else if (c === '}' && templates.length > 0 && templates[templates.length - 1]!.depth === 0) {
      i++;
      templateChunk();
    } else if (c === '/') {
      const regex = prev === '' || REGEX_AFTER_WORD.has(prev) || (prev.length === 1 && '(,=:[!&|?{};+-*%<>~^'.includes(prev));
      i++;
      if (regex) {
        let inClass = false;
        while (i < n && text[i] !== '\n') {
          const r = text[i]!;
          if (r === '\\') i++;
          else if (r === '[') inClass = true;
          else if (r === ']') inClass = false;
          else if (r === '/' && !inClass) break;
          i++;
        }
        i++;
        while (i < n && /[a-z]/.test(text[i]!)) i++;
        prev = 'value';
      } else prev = '/';
    } else if (/[\w$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(text[j]!)) j++;
      const word = text.slice(i, j);
      prev = REGEX_AFTER_WORD.has(word) ? word : 'value';
      i = j;
    } else {
      if (templates.length > 0) {
        const t = templates[templates.length - 1]!;
        if (c === '{') t.depth++;
        else if (c === '}') t.depth--;
      }
      prev = c === ')' || c === ']' ? 'value' : c;
      i++;
    }
  }
  return out;
}

/** The values of a YAML file, line by line: each line without its comment (a `#` outside quotes, after a space). */
export function yamlValues(text: string): FieldValue[] {
  return text.split('\n').map((raw, k) => {
    let quote = '';
    let cut = raw.length;
    for (let j = 0; j < raw.length; j++) {
      const c = raw[j]!;
      if (quote !== '') {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (j === 0 || /\s/.test(raw[j - 1]!))) {
        cut = j;
        break;
      }
    }
    return { value: raw.slice(0, cut), line: k + 1 };
  });
}

/** The string values of a JSON document (at any depth), each with the line where its text first appears. */
export function jsonStringValues(text: string): FieldValue[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not JSON after all (a template, a fixture with an error on purpose): every line is a value.
    return text.split('\n').map((value, k) => ({ value, line: k + 1 }));
  }
  const out: FieldValue[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      const at = text.indexOf(JSON.stringify(v).slice(1, -1));
      out.push({ value: v, line: at < 0 ? 1 : text.slice(0, at).split('\n').length });
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(doc);
  return out;
}

/** Markdown text outside fenced code blocks, line by line (inline code kept: a path written there is a field). */
export function markdownProse(text: string): FieldValue[] {
  let fenced = false;
  const out: FieldValue[] = [];
  text.split('\n').forEach((lineText, k) => {
    if (/^\s*(```|~~~)/.test(lineText)) fenced = !fenced;
    else if (!fenced) out.push({ value: lineText, line: k + 1 });
  });
  return out;
}

/** The path fields of `file` by its extension (see the header), or undefined for a file that has none. */
export function pathFields(file: string, text: string): FieldValue[] | undefined {
  if (file.endsWith('.json')) return jsonStringValues(text);
  if (/\.ya?ml$/.test(file)) return yamlValues(text);
  if (/\.(ts|js|mjs|cjs)$/.test(file)) return stringLiterals(text);
  if (file.endsWith('.md')) return markdownProse(text);
  return undefined;
}

/** Absolute paths in the path fields of `file` that `ALLOWED_ABSOLUTE_PATHS` does not allow, one finding per path per line. */
export function pathFieldFindings(file: string, text: string): Finding[] {
  const fields = pathFields(file, text);
  if (fields === undefined) return [];
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const { value, line } of fields) {
    for (const m of value.matchAll(ABSOLUTE_PATH)) {
      const p = m[0].replace(/\.+$/, '');
      if (allowedAbsolutePath(p) || seen.has(`${line} ${p}`)) continue;
      seen.add(`${line} ${p}`);
      out.push({
        file,
        line,
        problem: `names the absolute path ${p} in a path field: write it relative (to the run or matrix directory, or the repository), or allow a system path in ALLOWED_ABSOLUTE_PATHS`,
      });
    }
  }
  return out;
}

/** What users cannot read, and must not be sent to: each phrase with the reason given in a finding. */
export const BANNED_PHRASES: readonly { pattern: RegExp; why: string }[] = [
  // Another project's public issue, cited after its GitHub `owner/name` (bethgelab/foolbox issue #704), is fine.
  { pattern: /(?<![\w.-]\/[\w.-]+\s)\bissues?[ -]?#?\d+/i, why: 'cites an issue of the project tracker by number (say what it is instead)' },
  { pattern: /\bthe\sbrief\b|\bbrief\sof\b/i, why: 'cites the internal notes that work was planned in' },
  { pattern: /\bdesign\scards?\b/i, why: 'cites the internal notes that work was planned in' },
  { pattern: /\.\.\/shared\/docs\b/, why: 'names a documents folder outside the repository (the specifications are in docs/spec/)' },
];

/** The file kinds the phrases are checked in. */
const PHRASE_FILES = /\.(ts|js|mjs|ya?ml|md)$/;

/**
 * Committed files that still cite what users cannot read (mostly a test's opening comment naming the issue it was
 * written for). The repository test fails when a file outside this list holds a banned phrase, and when a listed
 * file no longer does (remove it from the list then): the list only shrinks.
 */
export const NOT_YET_REWORDED: readonly string[] = [];

/** The banned phrases in `text` (when `file` is of a checked kind), one finding per phrase per line. */
export function bannedPhraseFindings(file: string, text: string): Finding[] {
  if (!PHRASE_FILES.test(file) || path.posix.basename(file) === 'LICENSE') return [];
  const out: Finding[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const { pattern, why } of BANNED_PHRASES) {
      const m = pattern.exec(lineText);
      if (m !== null) out.push({ file, line: i + 1, problem: `"${m[0]}" ${why}` });
    }
  });
  return out;
}

/** True when the bytes look binary (a NUL in the first 8 KB, as git decides). */
function isBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8000).includes(0);
}

/** Everything (a) to (d) find in the git work tree at `root`. */
export function checkRepository(root: string, ownPath: string = root): { references: Finding[]; absolutePaths: Finding[]; pathFields: Finding[]; phrases: Finding[] } {
  const files = listRepoFiles(root);
  const index = indexFiles(files);
  const references: Finding[] = [];
  const absolutePaths: Finding[] = [];
  const pathFieldsFound: Finding[] = [];
  const phrases: Finding[] = [];
  for (const file of files) {
    const full = path.join(root, file);
    let size: number;
    try {
      const st = statSync(full);
      if (!st.isFile()) continue;
      size = st.size;
    } catch {
      // Listed but deleted in the working tree (someone's uncommitted removal): nothing to read.
      continue;
    }
    const isMd = file.endsWith('.md');
    const isTs = file.endsWith('.ts');
    if (size > MAX_SCAN_BYTES && !isMd && !isTs) continue;
    const bytes = readFileSync(full);
    if (isBinary(bytes)) continue;
    const text = bytes.toString('utf8');
    if (isMd) references.push(...brokenMarkdownLinks(file, text, index));
    if (isMd || isTs) references.push(...brokenMarkdownMentions(file, text, index));
    if (size <= MAX_SCAN_BYTES) {
      absolutePaths.push(...absolutePathFindings(file, text, ownPath));
      pathFieldsFound.push(...pathFieldFindings(file, text));
      phrases.push(...bannedPhraseFindings(file, text));
    }
  }
  return { references, absolutePaths, pathFields: pathFieldsFound, phrases };
}

/** One finding per line, for assertion messages. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `  ${f.file}:${f.line}: ${f.problem}`).join('\n');
}

/** The repository root (git's top level from the current directory), or undefined outside a git work tree. */
function repositoryRoot(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

describe('self-contained docs', function () {
  describe('this repository', function () {
    let result: ReturnType<typeof checkRepository> | undefined;
    before(function () {
      const root = repositoryRoot();
      if (root === undefined) {
        console.log('      (skipped: not a git work tree, so there is no list of committed files)');
        this.skip();
      }
      result = checkRepository(root!, realpathSync(process.cwd()));
    });

    it('every relative Markdown link and every *.md path mentioned in a .md or .ts file names a committed file', function () {
      const found = result!.references;
      expect(found, `${found.length} unresolved references:\n${formatFindings(found)}`).to.have.length(0);
    });

    it('no committed text file holds an absolute path of a build machine', function () {
      const found = result!.absolutePaths;
      expect(found, `${found.length} build-machine paths:\n${formatFindings(found)}`).to.have.length(0);
    });

    it('no path field (JSON and YAML values, string literals, Markdown prose) names an absolute path but an allowed system one', function () {
      const found = result!.pathFields;
      expect(found, `${found.length} absolute paths in path fields:\n${formatFindings(found)}`).to.have.length(0);
    });

    it('no .ts, .js, .mjs, .yaml or .md file cites an issue number, internal planning notes or a folder outside the repository', function () {
      const pending = new Set(NOT_YET_REWORDED);
      const found = result!.phrases.filter((f) => !pending.has(f.file));
      expect(found, `${found.length} phrases users cannot follow:\n${formatFindings(found)}`).to.have.length(0);
      const reworded = NOT_YET_REWORDED.filter((f) => !result!.phrases.some((p) => p.file === f));
      expect(reworded, 'these files no longer hold a banned phrase: remove them from NOT_YET_REWORDED').to.deep.equal([]);
    });
  });

  describe('the scanners find what they must (a scratch repository under the OS temp folder)', function () {
    let dir: string;
    // The scratch files' Markdown names are written `@md` here and turned into `.md` when written, so that this
    // source file mentions none of them; likewise the build-machine paths are assembled from their parts.
    const md = (s: string): string => s.replace(/@md\b/g, '.md');
    const home = ['', 'home', 'alice', 'robust-fl', 'dist', 'x.js'].join('/');
    const work = ['', 'work', 'main', 'runs', 'a'].join('/');
    const rootHome = ['', 'root', 'project', 'x'].join('/');
    const mac = ['', 'Users', 'bob', 'repo', 'notes'].join('/');
    const win = ['C:', 'Users', 'carol', 'repo'].join('\\');
    const winJson = ['C:', 'Users', 'carol'].join('\\\\');
    // An absolute path from its segments, and an issue citation from its parts, so that this file holds neither.
    const abs = (...parts: string[]): string => ['', ...parts].join('/');
    const cite = (sep: string, n: number): string => `issue${sep}${n}`;
    const sharedDocs = ['..', 'shared', 'docs', ''].join('/');

    before(function () {
      dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'rfl-docs-test-')));
      const names: string[] = [];
      const write = (name: string, text: string): void => {
        const rel = md(name);
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), text);
        names.push(rel);
      };
      write(
        'README.md',
        md(
          [
            '# Scratch',
            'See [the spec](docs/spec/a@md), [the GPU notes](docs/gpu@md#setup), [a folder](docs/spec/) and [a site](https://example.org/x@md).',
            'A broken link: [missing](docs/spec/missing@md). A broken mention: `docs/nowhere@md`. An escape: [up](../outside@md).',
            `Built in ${home} and ${work}; also ${rootHome}, ${mac}, ${win} and ${dir}/runs.`,
            `Fine: ${abs('usr', 'share', 'vulkan', 'icd.d')}, ${abs('usr', 'local', 'nvidia')}, ${abs('tmp', 'work', 'x')}, $dir${abs('root', 'usr')}, https://example.org${abs('home', 'x', 'y')}.`,
            'Maths is not a link: clip_[0,1](x + U(−ε, ε)).',
            '```sh',
            '[code, not a link](no-such-folder/)',
            '```',
          ].join('\n'),
        ),
      );
      write('docs/spec/a@md', md('Companion: `docs/gpu@md`, [back](../../README@md), [gpu](../gpu@md), bare `a@md`, placeholder `DIR/report@md`.\n'));
      write(
        'docs/gpu.md',
        md(
          'See spec/a@md and LPD-EPFL/byzfl `byzfl/benchmark/README@md`; but not `docs/spec/b@md`.\nWrapped: LPD-EPFL/byzfl\n`byzfl/benchmark/README@md`, and a wrapped local path: docs/spec\n`docs/spec/c@md`.\n',
        ),
      );
      write('src/x.ts', md(`/** Spec: docs/spec/a@md §1; gone: ${sharedDocs}a@md; bare: nothing@md. */\nexport const p = "${winJson}";\n`));
      write('data/blob.bin', 'binary\0' + home);
      // Path fields: JSON values, YAML values, string literals, Markdown prose. And the banned phrases.
      write(
        'cells/a/results.json',
        JSON.stringify(
          {
            scenario: 'a',
            runDir: abs('tmp', 'qa-out', 'cells', 'a'),
            nested: { out: abs('mnt', 'data', 'run') },
            python: abs('usr', 'bin', 'python3'),
            rel: 'runs/a',
            url: `http://example.org${abs('tmp', 'x')}`,
            question: `${cite(' ', 14)}: JSON is not checked for phrases`,
          },
          null,
          2,
        ) + '\n',
      );
      write(
        'presets/p.yaml',
        [
          `# rfl benchmark --config p --out ${abs('tmp', 'smoke')}`,
          'name: p',
          `out: ${abs('tmp', 'sweep-out')}  # a comment after a value`,
          `data: '${abs('usr', 'share', 'datasets', 'fashion-mnist')}'`,
          `note: "a # inside quotes is no comment ${abs('opt', 'x')}"`,
        ].join('\n') + '\n',
      );
      write(
        'src/y.ts',
        [
          `#!${abs('usr', 'bin', 'env')} node`,
          `// a comment naming ${abs('tmp', 'c')}`,
          `const a = '${abs('opt', 'tool')}';`,
          `const r = x.split(/'/).length / 2; const q = "${abs('data', 'q')}";`,
          `const t = \`\${dir}${abs('tmp', 't')} and ${abs('var', 'log', 'x')}\`;`,
          `const ok = '${abs('usr', 'bin', 'chromium')}'; /* ${abs('tmp', 'block')} */`,
        ].join('\n') + '\n',
      );
      write(
        'notes@md',
        [
          `Written to \`${abs('tmp', 'qa-out')}\` and ${abs('data', 'runs')}.`,
          '```sh',
          `rfl report runs/x --out ${abs('tmp', 'r')}`,
          '```',
          `Per ${cite(' ', 14)} and the ${cite('-', 22)} bar.`,
          `As ${['the', 'brief'].join(' ')} says, from a ${['design', 'card'].join(' ')}.`,
          `See ${sharedDocs}.`,
          `Foolbox: bethgelab/foolbox ${cite(' #', 704)}; a brief note.`,
        ].join('\n') + '\n',
      );
      execFileSync('git', ['init', '-q'], { cwd: dir });
      execFileSync('git', ['add', '--', ...names], { cwd: dir });
    });

    after(function () {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('reports each broken link and mention, and nothing that resolves', function () {
      const { references } = checkRepository(dir);
      const got = references.map((f) => `${f.file}:${f.line}: ${f.problem.split(',')[0]}`).sort();
      expect(got, formatFindings(references)).to.deep.equal(
        [
          'README.md:3: links to ../outside@md',
          'README.md:3: links to docs/spec/missing@md',
          'README.md:3: mentions ../outside@md',
          'README.md:3: mentions docs/nowhere@md',
          'README.md:3: mentions docs/spec/missing@md',
          'docs/gpu.md:1: mentions docs/spec/b@md',
          'docs/gpu.md:4: mentions docs/spec/c@md',
          `src/x.ts:1: mentions ${sharedDocs}a@md`,
          'src/x.ts:1: mentions nothing@md',
        ].map(md),
      );
    });

    it("reports each build-machine path, the checkout's own path included, and no system path", function () {
      const { absolutePaths } = checkRepository(dir);
      const got = absolutePaths.map((f) => `${f.file}:${f.line}: ${f.problem}`);
      const all = formatFindings(absolutePaths);
      // README line 4: one finding for the Unix paths, one for the Windows path, one for the checkout's own path.
      expect(
        got.filter((g) => g.startsWith('README.md:4:')),
        all,
      ).to.have.length(3);
      expect(
        got.some((g) => g.includes(`checkout's own path ${dir}`)),
        all,
      ).to.equal(true);
      expect(
        got.some((g) => g.startsWith('README.md:5:')),
        `system paths are not build-machine paths\n${all}`,
      ).to.equal(false);
      expect(
        got.some((g) => g.startsWith('src/x.ts:2:')),
        `the JSON-escaped Windows path\n${all}`,
      ).to.equal(true);
      expect(
        got.some((g) => g.startsWith('data/')),
        'binary files are skipped',
      ).to.equal(false);
      for (const p of [home, work, rootHome, mac, win, `"${winJson}"`, `file://${home}`]) {
        expect(absolutePathFindings('f', p, '/nowhere'), p).to.have.length(1);
      }
      expect(
        got.filter((g) => g.startsWith('cells/')),
        `a build machine's mount point\n${all}`,
      ).to.deep.equal([`cells/a/results.json:5: holds the build-machine path ${abs('mnt', '')}…`]);
      for (const p of [abs('usr', 'local', 'nvidia', 'share', 'vulkan', 'icd.d', ''), abs('tmp') + work, '~' + work, '$dir' + rootHome, 'https://example.org' + home]) {
        expect(absolutePathFindings('f', p, '/nowhere'), p).to.have.length(0);
      }
    });

    it('reports each absolute path in a path field, temporary folders included, and none in comments, fenced commands or the allow-list', function () {
      const { pathFields: found } = checkRepository(dir);
      const all = formatFindings(found);
      const got = found.map((f) => `${f.file}:${f.line} ${/absolute path (\S+)/.exec(f.problem)![1]}`);
      expect(
        got.filter((g) => !g.startsWith('README.md')),
        all,
      ).to.deep.equal(
        [
          `cells/a/results.json:3 ${abs('tmp', 'qa-out', 'cells', 'a')}`,
          `cells/a/results.json:5 ${abs('mnt', 'data', 'run')}`,
          `notes@md:1 ${abs('tmp', 'qa-out')}`,
          `notes@md:1 ${abs('data', 'runs')}`,
          `presets/p.yaml:3 ${abs('tmp', 'sweep-out')}`,
          `presets/p.yaml:5 ${abs('opt', 'x')}`,
          `src/y.ts:3 ${abs('opt', 'tool')}`,
          `src/y.ts:4 ${abs('data', 'q')}`,
          `src/y.ts:5 ${abs('var', 'log', 'x')}`,
        ].map(md),
      );
      expect(
        got.filter((g) => g.startsWith('README.md:5')),
        all,
      ).to.deep.equal([`README.md:5 ${abs('usr', 'local', 'nvidia')}`, `README.md:5 ${abs('tmp', 'work', 'x')}`]);
      expect(allowedAbsolutePath(abs('usr', 'share', 'datasets', 'mnist', 'x.gz'))).to.equal(true);
      expect(allowedAbsolutePath(abs('usr', 'bin', 'python3') + '.')).to.equal(true);
      expect(allowedAbsolutePath(abs('usr', 'bin', 'python3', 'x'))).to.equal(false);
      expect(allowedAbsolutePath(abs('usr', 'share'))).to.equal(false);
    });

    it('reads string literals as a tokenizer does: comments and regular expressions skipped, templates with their expressions elided', function () {
      const src = [`const a = 'x'; // 'y'`, `const r = /'[/]/g; const b = "z"; const c = a / 2 / 'w'.length;`, "const t = `p${f('q', { k: 1 })}r`; /* 'v' */ return /\"/.test(s);"].join('\n');
      expect(stringLiterals(src)).to.deep.equal([
        { value: 'x', line: 1 },
        { value: 'z', line: 2 },
        { value: 'w', line: 2 },
        { value: 'q', line: 3 },
        { value: 'p${…}r', line: 3 },
      ]);
    });

    it('reports each banned phrase in .ts, .md and .yaml files, and none in JSON or for an owner/name issue', function () {
      const { phrases } = checkRepository(dir);
      const got = phrases.map((f) => `${f.file}:${f.line} ${/^"([^"]+)"/.exec(f.problem)![1]}`).sort();
      expect(got, formatFindings(phrases)).to.deep.equal(
        [
          `notes@md:5 ${cite(' ', 14)}`,
          `notes@md:6 ${['design', 'card'].join(' ')}`,
          `notes@md:6 ${['the', 'brief'].join(' ')}`,
          `notes@md:7 ${sharedDocs.slice(0, -1)}`,
          `src/x.ts:1 ${sharedDocs.slice(0, -1)}`,
        ]
          .map(md)
          .sort(),
      );
    });
  });
});
