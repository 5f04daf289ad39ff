/**
 * The repository is self-contained for its users (issue 15):
 * (a) every relative Markdown link, and every `*.md` path mentioned in a committed Markdown file or TypeScript
 *     source, names a file (or folder) that is committed here;
 * (b) no committed text file holds an absolute path of a build machine: the checkout's own absolute path, or a
 *     path under `/work`, `/root`, `/home/<name>`, `/Users/<name>` or a Windows user folder (drive, then `Users`).
 *     System paths (under `/usr`, `/tmp`, `/etc`) are not build-machine paths and are not matched.
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
 * The files are those `git ls-files` lists (committed or staged); their text is read from the working tree.
 * Binary files and files over 2 MB are not scanned for absolute paths.
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
 * absolute path), and paths that start under `/work`, `/root`, `/home/<name>`, `/Users/<name>` or a Windows user
 * folder (a drive letter, a colon, then `Users` between backslashes, doubled backslashes as in JSON, or slashes).
 * A match must start a path: a `work` folder inside `/tmp`, or a `root` folder under `$dir`, is not one.
 */
export function absolutePathFindings(file: string, text: string, repoRoot: string): Finding[] {
  const out: Finding[] = [];
  const unix = /(?<![\w.~$}-])(\/work\/|\/home\/[\w.-]+\/|\/root\/|\/Users\/[\w.-]+\/)/;
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

/** True when the bytes look binary (a NUL in the first 8 KB, as git decides). */
function isBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8000).includes(0);
}

/** Everything (a) and (b) find in the git work tree at `root`. */
export function checkRepository(root: string, ownPath: string = root): { references: Finding[]; absolutePaths: Finding[] } {
  const files = listRepoFiles(root);
  const index = indexFiles(files);
  const references: Finding[] = [];
  const absolutePaths: Finding[] = [];
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
    if (size <= MAX_SCAN_BYTES) absolutePaths.push(...absolutePathFindings(file, text, ownPath));
  }
  return { references, absolutePaths };
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

describe('self-contained docs (issue 15)', function () {
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
            'Fine: /usr/share/vulkan/icd.d, /usr/local/nvidia, /tmp/work/x, $dir/root/usr, https://example.org/home/x/y.',
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
      write('src/x.ts', md(`/** Spec: docs/spec/a@md §1; gone: ../shared/docs/a@md; bare: nothing@md. */\nexport const p = "${winJson}";\n`));
      write('data/blob.bin', 'binary\0' + home);
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
          'src/x.ts:1: mentions ../shared/docs/a@md',
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
      for (const p of ['/usr/local/nvidia/share/vulkan/icd.d/', '/tmp' + work, '~' + work, '$dir' + rootHome, 'https://example.org' + home]) {
        expect(absolutePathFindings('f', p, '/nowhere'), p).to.have.length(0);
      }
    });
  });
});
