/**
 * Builds large real-text benchmark corpora (10k / 100k / 1m sentences) from the English
 * documentation that Debian ships in its main archive (manuals, guides, books, API references).
 *
 *   npm run prepare-large -- [--sizes 10k,100k,1m] [--out data/large] [--force] [--keep-unpacked]
 *
 * Stages (each with a progress bar):
 *   1. download  `apt-get download PKG` into <out>/cache/debs/ (skipped when a .deb is cached)
 *   2. unpack    `dpkg-deb -x` into <out>/cache/unpacked/<pkg>/, only for packages whose
 *                extraction cache is missing or stale
 *   3. extract   HTML → title + prose paragraphs (htmlparser2; scripts, styles, nav, code blocks and
 *                page furniture dropped), cached as <out>/cache/extracted/<pkg>.json; the unpacked
 *                tree is then removed unless --keep-unpacked
 *   4. build     one deterministic article order that interleaves the packages; drops non-English,
 *                tiny (< 5 sentences) and duplicate pages, boilerplate and already-seen paragraphs;
 *                splits pages over ~200 KB into "(part k)" articles; writes <out>/corpus-<size>/
 *                for the largest size and hard-links its leading files into the smaller ones, so
 *                each smaller corpus is a prefix of the larger.
 *   5. manifest  <out>/manifest.json (files, sentences, bytes per size and per package; packages).
 *
 * A second run with the same packages and script version finds the corpora in place and exits
 * at once (--force rebuilds). Only apt-get talks to the network (the configured Debian mirror).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { DomUtils, parseDocument } from "htmlparser2";

const execFileAsync = promisify(execFile);

/** Bump when extraction or article building changes, so caches and corpora are rebuilt. */
const EXTRACT_VERSION = 7;
const BUILD_VERSION = 3;

const MAX_FILE_BYTES = 200_000;
const PART_TARGET_BYTES = 180_000;
const MIN_SENTENCES_PER_PAGE = 5;
/** A paragraph seen on this many pages of one package is page furniture, not content. */
const BOILERPLATE_MIN_PAGES = 20;

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

interface Source {
  /** Debian package name (bookworm, section main). */
  pkg: string;
  /** Folder inside the unpacked package that holds the HTML pages. */
  root: string;
  /** Only paths (relative to root, "/"-separated) matching this; default: any *.html / *.htm. */
  include?: RegExp;
  /** Paths to leave out (indexes, generated listings, other languages, duplicate one-page editions). */
  exclude?: RegExp;
  license: string;
  note: string;
}

/** Sphinx output that is not an article: sources, assets, indexes, highlighted module source. */
const SPHINX_EX = String.raw`(^|/)(_sources|_static|_images|_downloads|_modules)/|(^|/)(genindex[^/]*|search|py-modindex|modindex|np-modindex)\.html$`;
const sphinx = (extra?: string): RegExp => new RegExp(extra ? `${SPHINX_EX}|${extra}` : SPHINX_EX);

/**
 * English documentation from Debian main, chosen for the amount of running prose (manuals, guides,
 * books first; API references with prose descriptions after) under DFSG-free licences.
 * Roughly in order of how many sentences they give.
 */
export const SOURCES: Source[] = [
  {
    pkg: "linux-doc-6.1",
    root: "usr/share/doc/linux-doc-6.1/html",
    exclude: sphinx("^translations/"), // zh_CN, zh_TW, ja_JP, ko_KR, it_IT, sp_SP versions
    license: "GPL-2",
    note: "Linux kernel documentation: admin guide, process, subsystem and driver docs",
  },
  {
    pkg: "openjdk-17-doc",
    root: "usr/share/doc/openjdk-17-jre-headless/api",
    exclude:
      /(^|\/)(class-use|src-html|index-files|legal|resources|script-dir)\/|(^|\/)(package-use|package-tree|overview-tree|allclasses-index|allpackages-index|deprecated-list|serialized-form|help-doc|constant-values|index-all|search|new-list|preview-list|system-properties|external-specs)\.html$/,
    license: "GPL-2 with Classpath exception",
    note: "Java SE 17 API documentation (class and member descriptions)",
  },
  {
    pkg: "rust-doc",
    root: "usr/share/doc/rust-doc/html",
    // core/ and alloc/ are re-exported (same text) under std/; arch/ is thousands of SIMD intrinsics.
    exclude: /^(src|implementors|core|alloc)\/|\/arch\/|(^|\/)(all|settings|not_found|search|print|toc)\.html$|sidebar-items/,
    license: "MIT or Apache-2.0",
    note: "The Rust Book, Reference, Rustonomicon, Rust by Example, rustc/cargo books, std docs",
  },
  {
    pkg: "python3.11-doc",
    root: "usr/share/doc/python3.11/html",
    exclude: sphinx(),
    license: "PSF-2.0",
    note: "Python 3.11 documentation: tutorial, library reference, HOWTOs, what's new",
  },
  {
    pkg: "ghc-doc",
    root: "usr/share/doc/ghc-doc/html",
    exclude: sphinx(String.raw`/src/|(^|/)(doc-index[^/]*|index|frames|index-frames)\.html$`),
    license: "BSD-3-Clause",
    note: "GHC User's Guide and Haddock docs of the Haskell libraries shipped with GHC 9.0",
  },
  {
    pkg: "erlang-doc",
    root: "usr/share/doc/erlang-doc",
    exclude: /\/java\/|(^|\/)(man_index|applications|index)\.html$/,
    license: "Apache-2.0",
    note: "Erlang/OTP system documentation, guides and reference manuals",
  },
  {
    pkg: "postgresql-doc-15",
    root: "usr/share/doc/postgresql-doc-15/html",
    exclude: /(^|\/)(bookindex|index)\.html$/,
    license: "PostgreSQL",
    note: "PostgreSQL 15 manual",
  },
  {
    pkg: "python-scipy-doc",
    root: "usr/share/doc/python-scipy-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "SciPy tutorial and reference",
  },
  {
    pkg: "libreoffice-help-en-us",
    root: "usr/share/libreoffice/help/en-US",
    license: "MPL-2.0",
    note: "LibreOffice help (Writer, Calc, Impress, Draw, Base, Basic)",
  },
  {
    pkg: "llvm-15-doc",
    root: "usr/share/doc/llvm-15-doc/html",
    exclude: sphinx("^AMDGPU/"), // AMDGPU/ is ~800 generated instruction-operand pages
    license: "Apache-2.0 with LLVM exception",
    note: "LLVM 15 documentation: language reference, guides, command guide",
  },
  {
    pkg: "sqlite3-doc",
    root: "usr/share/doc/sqlite3",
    license: "public domain",
    note: "SQLite documentation",
  },
  {
    pkg: "python-django-doc",
    root: "usr/share/doc/python-django-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "Django 3.2 documentation: topics, how-tos, reference, release notes",
  },
  {
    pkg: "python-sqlalchemy-doc",
    root: "usr/share/doc/python-sqlalchemy-doc/html",
    exclude: sphinx(),
    license: "MIT",
    note: "SQLAlchemy documentation",
  },
  {
    pkg: "python-sklearn-doc",
    root: "usr/share/doc/python-sklearn-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "scikit-learn user guide, examples and API reference",
  },
  {
    pkg: "python-pandas-doc",
    root: "usr/share/doc/python-pandas-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "pandas user guide, API reference and release notes",
  },
  {
    pkg: "lilypond-doc-html",
    root: "usr/share/doc/lilypond/html/Documentation",
    // One-page editions duplicate the split ones; internals/ is generated; hex folders hold snippet output.
    exclude: /-big-page\.html$|^[0-9a-f]{2}\/|^(internals|web|pictures|css|misc)\//,
    license: "GFDL-1.3+",
    note: "GNU LilyPond learning manual, notation reference, usage, essay, music glossary",
  },
  {
    pkg: "python-sympy-doc",
    root: "usr/share/doc/python-sympy-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "SymPy documentation",
  },
  {
    pkg: "git-doc",
    root: "usr/share/doc/git-doc",
    license: "GPL-2",
    note: "Git manual pages, user manual, how-tos and technical docs",
  },
  {
    pkg: "apache2-doc",
    root: "usr/share/doc/apache2-doc/manual/en",
    license: "Apache-2.0",
    note: "Apache HTTP Server 2.4 manual (English)",
  },
  {
    pkg: "nodejs-doc",
    root: "usr/share/doc/nodejs/api",
    exclude: /(^|\/)(all|index)\.html$/, // all.html is every page again on one page
    license: "MIT",
    note: "Node.js 18 API documentation",
  },
  {
    pkg: "gimp-help-en",
    root: "usr/share/gimp/2.0/help/en",
    license: "GFDL-1.2+",
    note: "GNU Image Manipulation Program user manual (English)",
  },
  {
    pkg: "exim4-doc-html",
    root: "usr/share/doc/exim4-doc-html",
    license: "GPL-2+",
    note: "Exim 4 specification and filter guide",
  },
  {
    pkg: "zsh-doc",
    root: "usr/share/doc/zsh-common/html",
    license: "MIT-like (zsh)",
    note: "Z shell manual",
  },
  {
    pkg: "clang-15-doc",
    root: "usr/share/doc/clang-15/html",
    exclude: sphinx(),
    license: "Apache-2.0 with LLVM exception",
    note: "Clang 15 documentation",
  },
  {
    pkg: "postfix-doc",
    root: "usr/share/doc/postfix/html",
    license: "IPL-1.0 or EPL-2.0",
    note: "Postfix mail server documentation",
  },
  {
    pkg: "bind9-doc",
    root: "usr/share/doc/bind9-doc/arm",
    exclude: sphinx(),
    license: "MPL-2.0",
    note: "BIND 9 Administrator Reference Manual",
  },
  {
    pkg: "debian-handbook",
    root: "usr/share/doc/debian-handbook/html/en-US",
    license: "GPL-2+ or CC-BY-SA-3.0",
    note: "The Debian Administrator's Handbook (English)",
  },
  {
    pkg: "sphinx-doc",
    root: "usr/share/doc/sphinx-doc/html",
    exclude: sphinx(),
    license: "BSD-2-Clause",
    note: "Sphinx documentation generator manual",
  },
  {
    pkg: "bash-doc",
    root: "usr/share/doc/bash",
    exclude: /^examples\//,
    license: "GPL-3+",
    note: "GNU Bash reference manual",
  },
  {
    pkg: "python-flask-doc",
    root: "usr/share/doc/python-flask-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "Flask documentation",
  },
  {
    pkg: "python-pytest-doc",
    root: "usr/share/doc/python-pytest-doc/html",
    exclude: sphinx(),
    license: "MIT",
    note: "pytest documentation",
  },
  {
    pkg: "abs-guide",
    root: "usr/share/doc/abs-guide/html",
    license: "public domain",
    note: "Advanced Bash-Scripting Guide",
  },
  {
    pkg: "debian-policy",
    root: "usr/share/doc/debian-policy",
    exclude: sphinx(),
    license: "GPL-2+",
    note: "Debian Policy Manual and sub-policies",
  },
  {
    pkg: "debian-reference-en",
    root: "usr/share/debian-reference",
    exclude: /(^|\/)index\.[a-z]+\.html$/,
    license: "GPL-2+",
    note: "Debian Reference (English)",
  },
  {
    pkg: "developers-reference",
    root: "usr/share/developers-reference",
    exclude: sphinx(),
    license: "GPL-2",
    note: "Debian Developer's Reference",
  },
  {
    pkg: "debmake-doc",
    root: "usr/share/doc/debmake-doc/html",
    include: /\.en\.html$/,
    license: "MIT",
    note: "Guide for Debian Maintainers (English)",
  },
  {
    pkg: "maint-guide",
    root: "usr/share/doc/maint-guide/html",
    include: /\.en\.html$/,
    license: "GPL-2+",
    note: "Debian New Maintainers' Guide (English)",
  },
  {
    pkg: "debian-faq",
    root: "usr/share/doc/debian/FAQ",
    license: "GPL-2+",
    note: "The Debian GNU/Linux FAQ",
  },
  {
    pkg: "aptitude-doc-en",
    root: "usr/share/doc/aptitude/html/en",
    license: "GPL-2+",
    note: "aptitude user's manual (English)",
  },
  {
    pkg: "libboost1.74-doc",
    root: "usr/share/doc/libboost1.74-doc",
    license: "BSL-1.0",
    note: "Boost C++ libraries documentation",
  },
  {
    pkg: "libglib2.0-doc",
    root: "usr/share/gtk-doc/html",
    exclude: /(^|\/)(api-index[^/]*|annotation-glossary|ix\d+|index|object-tree|deprecated-api-index)\.html$/,
    license: "LGPL-2.1+",
    note: "GLib, GObject and GIO reference manuals",
  },
  {
    pkg: "libgtk-3-doc",
    root: "usr/share/gtk-doc/html",
    exclude: /(^|\/)(api-index[^/]*|annotation-glossary|ix\d+|index|object-tree|deprecated-api-index)\.html$/,
    license: "LGPL-2.1+",
    note: "GTK 3 and GDK 3 reference manuals",
  },
  {
    pkg: "python-astropy-doc",
    root: "usr/share/doc/python-astropy-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "Astropy documentation",
  },
  {
    pkg: "cmake-doc",
    root: "usr/share/doc/cmake-data/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "CMake reference documentation and tutorial",
  },
  {
    pkg: "octave-doc",
    root: "usr/share/doc/octave",
    license: "GPL-3+",
    note: "GNU Octave manual",
  },
  {
    pkg: "slurm-wlm-doc",
    root: "usr/share/doc/slurm-wlm/html",
    license: "GPL-2+",
    note: "Slurm workload manager documentation",
  },
  {
    pkg: "libvirt-doc",
    root: "usr/share/doc/libvirt-doc/html",
    license: "LGPL-2.1+",
    note: "libvirt documentation: guides, knowledge base, manual pages",
  },
  {
    pkg: "maxima-doc",
    root: "usr/share/doc/maxima-doc/html",
    license: "GPL-2",
    note: "Maxima computer algebra system manual",
  },
  {
    pkg: "docutils-doc",
    root: "usr/share/doc/docutils-doc",
    license: "public domain",
    note: "Docutils and reStructuredText documentation",
  },
  {
    pkg: "python-dask-doc",
    root: "usr/share/doc/python-dask-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "Dask documentation",
  },
  {
    pkg: "python-celery-doc",
    root: "usr/share/doc/python-celery-doc/html",
    exclude: sphinx(),
    license: "BSD-3-Clause",
    note: "Celery distributed task queue documentation",
  },
  {
    pkg: "python-xarray-doc",
    root: "usr/share/doc/python-xarray-doc/html",
    exclude: sphinx(),
    license: "Apache-2.0",
    note: "xarray documentation",
  },
  {
    pkg: "scons-doc",
    root: "usr/share/doc/scons/HTML",
    license: "MIT",
    note: "SCons user guide",
  },
];

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

class UserError extends Error {}

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

function parseSize(label: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(label.trim());
  if (!m) throw new InvalidArgumentError(`"${label}" is not a size like 10k, 100k, 1m or 5000`);
  const mult = m[2]?.toLowerCase() === "k" ? 1e3 : m[2]?.toLowerCase() === "m" ? 1e6 : 1;
  const n = Math.round(Number(m[1]) * mult);
  if (n < 1) throw new InvalidArgumentError(`size "${label}" must be at least 1 sentence`);
  return n;
}

function parseSizes(value: string): string[] {
  const labels = value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (labels.length === 0) throw new InvalidArgumentError("give at least one size, e.g. 10k,100k");
  for (const l of labels) parseSize(l);
  return [...new Set(labels)].sort((a, b) => parseSize(a) - parseSize(b));
}

function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function fmtInt(n: number): string {
  return n.toLocaleString("en-US");
}

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function newBar(stage: string, unit: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format: `${stage.padEnd(9)} [{bar}] {percentage}% | {value}/{total} ${unit} | {detail}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
}

async function run(cmd: string, args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(cmd, args, { cwd, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; code?: string | number };
    if (e.code === "ENOENT") {
      throw new UserError(
        `"${cmd}" was not found. This script needs a Debian-based system with apt-get and dpkg-deb (or put the .deb files in the cache folder yourself).`,
      );
    }
    const detail = (e.stderr ?? e.message).trim().split("\n").slice(-5).join("\n  ");
    throw new UserError(`"${cmd} ${args.join(" ")}" failed:\n  ${detail}`);
  }
}

async function walkFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walkFiles(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

async function rmrf(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Stage 1 & 2: download and unpack
// ---------------------------------------------------------------------------------------------

interface CachedDeb {
  pkg: string;
  file: string;
  version: string;
  bytes: number;
  downloaded: boolean;
}

async function findCachedDeb(debDir: string, pkg: string): Promise<string | undefined> {
  const names = (await fs.readdir(debDir)).filter((n) => n.startsWith(`${pkg}_`) && n.endsWith(".deb"));
  if (names.length === 0) return undefined;
  // Newest file wins when several versions were downloaded over time.
  const stats = await Promise.all(names.map(async (n) => ({ n, t: (await fs.stat(path.join(debDir, n))).mtimeMs })));
  stats.sort((a, b) => b.t - a.t);
  return stats[0]!.n;
}

async function download(sources: Source[], debDir: string): Promise<CachedDeb[]> {
  await fs.mkdir(debDir, { recursive: true });
  const bar = newBar("download", "packages");
  bar.start(sources.length, 0, { detail: "" });
  const out: CachedDeb[] = [];
  try {
    for (const s of sources) {
      let file = await findCachedDeb(debDir, s.pkg);
      let downloaded = false;
      if (!file) {
        bar.update({ detail: `apt-get download ${s.pkg}` });
        try {
          // Sandbox user root: the cache folder belongs to root and _apt could not write to it.
          await run("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", s.pkg], debDir);
        } catch (err) {
          if (err instanceof UserError && /Unable to locate|has no installation candidate|Unable to fetch|Failed to fetch/i.test(err.message)) {
            throw new UserError(`${err.message}\nThe package list may be missing or stale: run "apt-get update" (as root) and try again.`);
          }
          if (err instanceof UserError) throw new UserError(`${err.message}\n  .deb cache folder: ${debDir}`);
          throw err;
        }
        file = await findCachedDeb(debDir, s.pkg);
        if (!file) throw new UserError(`apt-get download ${s.pkg} reported success but no ${s.pkg}_*.deb appeared in ${debDir}`);
        downloaded = true;
      }
      const bytes = (await fs.stat(path.join(debDir, file))).size;
      const version = decodeURIComponent(file.split("_")[1] ?? "?");
      out.push({ pkg: s.pkg, file, version, bytes, downloaded });
      bar.increment(1, { detail: `${s.pkg} ${version}${downloaded ? " (downloaded)" : " (cached)"}` });
    }
  } finally {
    bar.stop();
  }
  return out;
}

async function unpack(debs: CachedDeb[], debDir: string, unpackDir: string): Promise<boolean[]> {
  await fs.mkdir(unpackDir, { recursive: true });
  const bar = newBar("unpack", "packages");
  bar.start(debs.length, 0, { detail: "" });
  const fresh: boolean[] = [];
  try {
    for (const d of debs) {
      const target = path.join(unpackDir, d.pkg);
      const marker = path.join(target, ".unpacked-from");
      const have = existsSync(marker) ? (await fs.readFile(marker, "utf8")).trim() : "";
      if (have === d.file) {
        fresh.push(false);
        bar.increment(1, { detail: `${d.pkg} (cached)` });
        continue;
      }
      bar.update({ detail: `dpkg-deb -x ${d.file}` });
      const tmp = `${target}.tmp-${process.pid}`;
      await rmrf(tmp);
      await fs.mkdir(tmp, { recursive: true });
      await run("dpkg-deb", ["-x", path.join(debDir, d.file), tmp]);
      await fs.writeFile(path.join(tmp, ".unpacked-from"), `${d.file}\n`);
      await rmrf(target);
      await fs.rename(tmp, target);
      fresh.push(true);
      bar.increment(1, { detail: `${d.pkg} (unpacked)` });
    }
  } finally {
    bar.stop();
  }
  return fresh;
}

// ---------------------------------------------------------------------------------------------
// Stage 3: HTML → prose paragraphs
// ---------------------------------------------------------------------------------------------

type Doc = ReturnType<typeof parseDocument>;
type DomNode = Doc["children"][number];
type DomElement = Extract<DomNode, { attribs: Record<string, string> }>;
type DomParent = Extract<DomNode, { children: DomNode[] }>;

const isTag = (n: DomNode): n is DomElement => n.type === "tag" || n.type === "script" || n.type === "style";
const isText = (n: DomNode): n is Extract<DomNode, { data: string }> => n.type === "text";
const hasChildren = (n: DomNode): n is DomParent => "children" in n && Array.isArray(n.children);

/** Elements whose whole subtree is dropped: code, scripts, navigation and other page furniture. */
const SKIP_TAGS = new Set([
  "head",
  "script",
  "style",
  "noscript",
  "template",
  "nav",
  "header",
  "footer",
  "aside",
  "pre",
  "textarea",
  "svg",
  "math",
  "form",
  "button",
  "select",
  "iframe",
  "object",
  "canvas",
  "map",
  "xmp",
  "listing",
]);

/** class tokens marking page furniture or code blocks (Sphinx, DocBook, AsciiDoc, Publican, Django themes). */
const SKIP_CLASSES = new Set([
  // Sphinx
  "sphinxsidebar",
  "sphinxsidebarwrapper",
  "related",
  "footer",
  "headerlink",
  "toctree-wrapper",
  "contents",
  "linenos",
  "literal-block",
  "literal-block-wrapper",
  "doctest",
  "sig",
  "sig-object",
  "mobile-nav",
  "menu-wrapper",
  "inline-search",
  "version_switcher_placeholder",
  "language_switcher_placeholder",
  "wy-nav-side",
  "wy-nav-top",
  "wy-breadcrumbs",
  "wy-breadcrumbs-aside",
  "rst-footer-buttons",
  "rst-versions",
  "graphviz",
  "math",
  "kernelindent",
  // DocBook / Publican
  "navheader",
  "navfooter",
  "toc",
  "list-of-tables",
  "list-of-figures",
  "list-of-examples",
  "programlisting",
  "screen",
  "synopsis",
  "cmdsynopsis",
  "funcsynopsis",
  "func_signature",
  "literallayout",
  "docnav",
  "indexterm",
  // AsciiDoc (git)
  "listingblock",
  "literalblock",
  "verseblock",
  // Django theme
  "nav",
  "doc-floating-warning",
  "browse-horizontal",
  // gtk-doc
  "navigation",
  "refsynopsisdiv",
  // Node.js API docs: "#" anchors in headings
  "mark",
  // Javadoc: signatures, summary tables that repeat each member's first sentence, navigation
  "member-signature",
  "type-signature",
  "summary",
  "summary-table",
  "inherited-list",
  "inheritance",
  "sub-title",
  "skip-nav",
  "top-nav",
  "sub-nav",
  "col-first",
  "col-second",
  "col-last",
  "col-constructor-name",
  "table-header",
  // rustdoc and mdBook
  "rightside",
  "item-decl",
  "code-header",
  "notable-traits",
  "srclink",
  "item-table",
  "docblock-short",
  "menu-bar",
  "nav-wrapper",
  "nav-wide-wrapper",
  "search-container",
  // Haddock
  "src",
  "package-header",
  "module-header",
  "table-of-contents",
  "contents-list",
  // Erlang/OTP
  "REFTYPES",
  "title-anchors",
  "title-name",
]);
const SKIP_IDS = new Set([
  "synopsis",
  "table-of-contents",
  "package-header",
  "module-header",
  "contents-list",
  "leftnav",
  "menu-bar",
  "hd",
  "ft",
  "global-nav",
  "searchbox",
  "banner",
  "header",
  "footer",
  "toc",
  "footer-text",
  "sidebar",
  "breadcrumbs",
  "title",
  "site-navigation",
  "navigation",
]);
const SKIP_ROLES = new Set(["navigation", "search", "banner", "contentinfo", "complementary"]);

/** Elements that start a new paragraph. */
const BLOCK_TAGS = new Set([
  "address",
  "article",
  "blockquote",
  "body",
  "caption",
  "center",
  "dd",
  "details",
  "dialog",
  "dir",
  "div",
  "dl",
  "dt",
  "fieldset",
  "figcaption",
  "figure",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "html",
  "legend",
  "li",
  "main",
  "menu",
  "ol",
  "p",
  "section",
  "summary",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "tr",
  "ul",
]);
const HEADING_TAGS = ["h1", "h2", "h3", "h4"];

function classTokens(el: DomElement): string[] {
  const c = el.attribs.class;
  return c ? c.split(/\s+/).filter(Boolean) : [];
}

function isSkipped(el: DomElement): boolean {
  const tag = el.name.toLowerCase();
  if (SKIP_TAGS.has(tag)) return true;
  const a = el.attribs;
  if (a.role && SKIP_ROLES.has(a.role)) return true;
  if (a.id && SKIP_IDS.has(a.id)) return true;
  if ("hidden" in a || /display:\s*none/i.test(a.style ?? "")) return true;
  for (const t of classTokens(el)) {
    if (SKIP_CLASSES.has(t) || t.startsWith("highlight")) return true;
  }
  // Multi-line <code> is a code block; one-line <code> stays, as it is part of a sentence.
  if (tag === "code" || tag === "tt" || tag === "kbd" || tag === "samp") {
    return DomUtils.textContent(el).includes("\n");
  }
  return false;
}

/** Text of a subtree with skipped elements left out, whitespace collapsed. */
function cleanText(node: DomNode): string {
  const parts: string[] = [];
  const visit = (n: DomNode): void => {
    if (isText(n)) parts.push(n.data);
    else if (isTag(n)) {
      if (isSkipped(n)) return;
      if (n.name === "br") parts.push(" ");
      for (const c of n.children) visit(c);
    } else if (hasChildren(n)) for (const c of n.children) visit(c);
  };
  visit(node);
  return normalizeSpace(parts.join(""));
}

function normalizeSpace(s: string): string {
  return s
    .replace(/[\u00b6\u200b\u00ad]/g, "") // pilcrow anchors, zero-width space, soft hyphen
    .replace(/\s+/g, " ")
    .trim();
}

/** Main-content element of a page, by the markers the doc generators use. */
function contentRoot(doc: Doc): DomNode {
  const all = DomUtils.findAll(() => true, doc.children);
  const pick = (pred: (e: DomElement) => boolean): DomElement | undefined => all.find(pred);
  return (
    pick((e) => e.attribs.itemprop === "articleBody") ??
    pick((e) => e.attribs.role === "main") ??
    pick((e) => e.attribs.id === "docs-content") ??
    pick((e) => e.name === "div" && classTokens(e).includes("body")) ??
    pick((e) => e.name === "main") ??
    pick((e) => e.name === "body") ??
    doc
  );
}

/** First element in document order matching `pred`, not looking inside skipped subtrees. */
function findVisible(node: DomNode, pred: (e: DomElement) => boolean): DomElement | undefined {
  if (isTag(node)) {
    if (isSkipped(node)) return undefined;
    if (pred(node)) return node;
  }
  if (hasChildren(node)) {
    for (const c of node.children) {
      const found = findVisible(c, pred);
      if (found) return found;
    }
  }
  return undefined;
}

function pageTitle(doc: Doc, root: DomNode, fallback: string): string {
  // Haddock puts the module name in #module-header, outside the headings of the content.
  const haddock = DomUtils.findOne((e) => e.attribs.id === "module-header", doc.children);
  const caption = haddock ? DomUtils.findOne((e) => classTokens(e).includes("caption"), haddock.children) : null;
  if (caption) {
    const t = normalizeSpace(DomUtils.textContent(caption));
    if (t) return t;
  }
  let heading = "";
  for (const h of HEADING_TAGS) {
    const el = findVisible(root, (e) => e.name === h);
    heading = el ? cleanText(el) : "";
    if (heading) break;
  }
  const titleEl = DomUtils.findOne((e) => e.name === "title", doc.children);
  const tagTitle = (titleEl ? normalizeSpace(DomUtils.textContent(titleEl)) : "")
    // "os — … — Python 3.11.2 documentation", "File system | Node.js v18.20.4 Documentation"
    .replace(/\s+[—|–-]\s+[^—|–]*(documentation|manual|handbook|guide|reference)[^—|–]*$/i, "")
    // Texinfo: "Object Sizes (GNU Octave (version 7.3.0))"
    .replace(/\s+\([^()]*\(version [^()]*\)\)$/i, "")
    .trim();
  // A heading that is the site's name or the first numbered section says less than <title>.
  const generic = /documentation$/i.test(heading) || /^(1(\.1)?\.?|I\.)\s/.test(heading);
  if (heading && !(generic && tagTitle)) return heading;
  return tagTitle || heading || fallback;
}

/** Decodes a page by its declared charset (some DocBook output is ISO-8859-1), else UTF-8 or windows-1252. */
export function decodeHtml(buf: Buffer): string {
  const head = buf.subarray(0, 2048).toString("latin1");
  const m = /<meta[^>]+charset=["']?([\w-]+)|<\?xml[^>]+encoding=["']([\w-]+)/i.exec(head);
  const label = (m?.[1] ?? m?.[2] ?? "").toLowerCase();
  if (label && label !== "utf-8" && label !== "utf8") {
    try {
      return new TextDecoder(label).decode(buf);
    } catch {
      // unknown label: fall through
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return new TextDecoder("windows-1252").decode(buf);
  }
}

/** Splits the content into blocks at block-level element boundaries. */
function blocks(root: DomNode): string[] {
  const out: string[] = [];
  let buf: string[] = [];
  const flush = (): void => {
    if (buf.length) {
      const t = normalizeSpace(buf.join(""));
      if (t) out.push(t);
      buf = [];
    }
  };
  const visit = (n: DomNode): void => {
    if (isText(n)) {
      buf.push(n.data);
      return;
    }
    if (!isTag(n)) {
      if (hasChildren(n)) for (const c of n.children) visit(c);
      return;
    }
    if (isSkipped(n)) {
      // A dropped block still ends the paragraph around it.
      if (BLOCK_TAGS.has(n.name) || SKIP_TAGS.has(n.name)) flush();
      return;
    }
    if (n.name === "br") {
      buf.push(" ");
      return;
    }
    const block = BLOCK_TAGS.has(n.name);
    if (block) flush();
    for (const c of n.children) visit(c);
    if (block) flush();
  };
  visit(root);
  flush();
  return out;
}

const LETTER = /\p{L}/gu;
const ASCII_LETTER = /[A-Za-z]/g;

/** Keeps blocks that read as prose: several words, mostly letters, a sentence rather than a heading or cell. */
function isProse(p: string): boolean {
  const words = p.split(" ");
  if (words.length < 4) return false;
  const nonSpace = p.length - (words.length - 1);
  const letters = p.match(LETTER)?.length ?? 0;
  if (letters < 0.6 * nonSpace) return false;
  if (!/[a-z]{2,}/.test(p)) return false; // at least one lower-case word
  const endsLikeSentence = /[.!?:;)"'\u201d\u2019]$/.test(p);
  // Short lines full of brackets or operators are signatures or code, not sentences.
  if (words.length < 10 && !/[.!?]$/.test(p) && /[(){}[\];=<>]|->|::/.test(p)) return false;
  return endsLikeSentence || words.length >= 10;
}

/** Frequent English function words: about a fifth of the words of English prose, rare in other languages. */
const EN_STOPWORDS = new Set(
  "the of and to a in is that for it as with be on by this are or not from an at which can if you your when will has have its".split(" "),
);

/** English: almost only Latin letters, and English function words are frequent. */
function isEnglish(text: string): boolean {
  const letters = text.match(LETTER)?.length ?? 0;
  if (letters === 0) return false;
  const ascii = text.match(ASCII_LETTER)?.length ?? 0;
  if (ascii / letters < 0.95) return false;
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  let stop = 0;
  for (const w of words) if (EN_STOPWORDS.has(w)) stop++;
  return words.length > 0 && stop / words.length >= 0.08;
}

export interface Page {
  /** Path of the HTML file inside the package's doc root. */
  rel: string;
  title: string;
  paragraphs: string[];
}

export function extractPage(html: string, rel: string): Page {
  const doc = parseDocument(html, { decodeEntities: true, lowerCaseTags: true });
  const root = contentRoot(doc);
  const fallback = rel.replace(/\.html?$/, "").replace(/[/_-]+/g, " ");
  const title = pageTitle(doc, root, fallback);
  const paragraphs = blocks(root)
    .map((p) => p.replace(/^[•·▪◦*–-]\s+/, ""))
    .filter((p) => p !== title && isProse(p));
  return { rel, title, paragraphs };
}

interface ExtractCache {
  key: string;
  pkg: string;
  htmlFiles: number;
  pages: Page[];
}

interface ExtractPlan {
  cached: Map<string, ExtractCache>;
  todo: Array<{ s: Source; deb: CachedDeb; key: string; file: string }>;
}

/** Which packages have a valid extraction cache, and which must be unpacked and extracted. */
async function planExtraction(sources: Source[], debs: CachedDeb[], extractDir: string): Promise<ExtractPlan> {
  await fs.mkdir(extractDir, { recursive: true });
  const plan: ExtractPlan = { cached: new Map(), todo: [] };
  for (const s of sources) {
    const deb = debs.find((d) => d.pkg === s.pkg)!;
    const key = sha1(JSON.stringify({ v: EXTRACT_VERSION, deb: deb.file, root: s.root, in: s.include?.source ?? "", ex: s.exclude?.source ?? "" }));
    const file = path.join(extractDir, `${s.pkg}.json`);
    if (existsSync(file)) {
      try {
        const cached = JSON.parse(await fs.readFile(file, "utf8")) as ExtractCache;
        if (cached.key === key) {
          plan.cached.set(s.pkg, cached);
          continue;
        }
      } catch {
        // unreadable cache: extract again
      }
    }
    plan.todo.push({ s, deb, key, file });
  }
  return plan;
}

async function extractAll(plan: ExtractPlan, unpackDir: string, keepUnpacked: boolean): Promise<Map<string, ExtractCache>> {
  const result = new Map(plan.cached);
  if (plan.todo.length === 0) return result;
  const lists: string[][] = [];
  for (const t of plan.todo) {
    const rootDir = path.join(unpackDir, t.s.pkg, t.s.root);
    if (!existsSync(rootDir)) {
      throw new UserError(`${t.s.pkg}: expected HTML under ${t.s.root} but ${rootDir} does not exist (package layout changed?)`);
    }
    lists.push((await walkFiles(rootDir)).filter((f) => (t.s.include ? t.s.include.test(f) : /\.html?$/i.test(f)) && !t.s.exclude?.test(f)).sort());
  }
  const total = lists.reduce((n, l) => n + l.length, 0);
  const bar = newBar("extract", "pages");
  bar.start(total, 0, { detail: "" });
  try {
    for (const [i, t] of plan.todo.entries()) {
      const rootDir = path.join(unpackDir, t.s.pkg, t.s.root);
      const files = lists[i]!;
      const pages: Page[] = [];
      for (const rel of files) {
        const html = decodeHtml(await fs.readFile(path.join(rootDir, rel)));
        const page = extractPage(html, rel);
        if (page.paragraphs.length > 0) pages.push(page);
        bar.increment(1, { detail: `${t.s.pkg}/${rel}`.slice(0, 60) });
      }
      const cache: ExtractCache = { key: t.key, pkg: t.s.pkg, htmlFiles: files.length, pages };
      const tmp = `${t.file}.tmp-${process.pid}`;
      await fs.writeFile(tmp, JSON.stringify(cache));
      await fs.rename(tmp, t.file);
      result.set(t.s.pkg, cache);
      // The extracted text is what later runs need; the unpacked tree (3+ GB in all) can go.
      if (!keepUnpacked) await rmrf(path.join(unpackDir, t.s.pkg));
    }
  } finally {
    bar.stop();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Stage 4: articles
// ---------------------------------------------------------------------------------------------

const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/** Approximate sentence count (ICU sentence boundaries; segments without a letter don't count). */
export function countSentences(paragraph: string): number {
  let n = 0;
  for (const s of segmenter.segment(paragraph)) if (/\p{L}/u.test(s.segment)) n++;
  return n;
}

interface Article {
  name: string;
  title: string;
  pkg: string;
  body: string;
  sentences: number;
}

interface BuildStats {
  pagesExtracted: number;
  skippedNonEnglish: number;
  skippedDuplicate: number;
  skippedTiny: number;
  boilerplateParagraphs: number;
  repeatedParagraphsDropped: number;
  splitPages: number;
}

function slug(s: string): string {
  return (
    s
      .replace(/\.html?$/i, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 80)
      .replace(/-+$/, "") || "page"
  );
}

/** Splits one page's paragraphs into parts of at most ~PART_TARGET_BYTES. */
function splitParts(paras: Array<{ text: string; sentences: number }>): Array<Array<{ text: string; sentences: number }>> {
  const bytes = paras.reduce((n, p) => n + Buffer.byteLength(p.text) + 2, 0);
  if (bytes <= MAX_FILE_BYTES) return [paras];
  // Oversized single paragraphs are cut at sentence boundaries first.
  const pieces: Array<{ text: string; sentences: number }> = [];
  for (const p of paras) {
    if (Buffer.byteLength(p.text) <= PART_TARGET_BYTES) {
      pieces.push(p);
      continue;
    }
    let cur = "";
    let curN = 0;
    for (const s of segmenter.segment(p.text)) {
      if (cur && Buffer.byteLength(cur) + Buffer.byteLength(s.segment) > PART_TARGET_BYTES) {
        pieces.push({ text: cur.trim(), sentences: curN });
        cur = "";
        curN = 0;
      }
      cur += s.segment;
      if (/\p{L}/u.test(s.segment)) curN++;
    }
    if (cur.trim()) pieces.push({ text: cur.trim(), sentences: curN });
  }
  const nParts = Math.ceil(bytes / PART_TARGET_BYTES);
  const target = bytes / nParts;
  const parts: Array<Array<{ text: string; sentences: number }>> = [[]];
  let size = 0;
  for (const p of pieces) {
    const b = Buffer.byteLength(p.text) + 2;
    if (size > 0 && (size + b > PART_TARGET_BYTES || size + b / 2 > target)) {
      parts.push([]);
      size = 0;
    }
    parts[parts.length - 1]!.push(p);
    size += b;
  }
  return parts;
}

function buildArticles(sources: Source[], extracted: Map<string, ExtractCache>): { articles: Article[]; stats: BuildStats } {
  const stats: BuildStats = {
    pagesExtracted: 0,
    skippedNonEnglish: 0,
    skippedDuplicate: 0,
    skippedTiny: 0,
    boilerplateParagraphs: 0,
    repeatedParagraphsDropped: 0,
    splitPages: 0,
  };
  // Boilerplate: paragraphs repeated on many pages of the same package.
  const boiler = new Set<string>();
  for (const s of sources) {
    const freq = new Map<string, number>();
    for (const page of extracted.get(s.pkg)!.pages) {
      for (const p of new Set(page.paragraphs)) freq.set(p, (freq.get(p) ?? 0) + 1);
    }
    for (const [p, n] of freq) if (n >= BOILERPLATE_MIN_PAGES) boiler.add(p);
  }
  stats.boilerplateParagraphs = boiler.size;

  // One deterministic order that interleaves packages, so every prefix mixes all sources.
  const pages = sources.flatMap((s) => extracted.get(s.pkg)!.pages.map((page) => ({ pkg: s.pkg, page, order: sha1(`${s.pkg}/${page.rel}`) })));
  stats.pagesExtracted = pages.length;
  pages.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));

  const seenPages = new Set<string>();
  const seenParas = new Set<string>();
  const articles: Article[] = [];
  let seq = 0;
  for (const { pkg, page } of pages) {
    const whole = page.paragraphs.join("\n");
    if (!isEnglish(whole)) {
      stats.skippedNonEnglish++;
      continue;
    }
    const pageHash = sha1(whole);
    if (seenPages.has(pageHash)) {
      stats.skippedDuplicate++;
      continue;
    }
    seenPages.add(pageHash);
    const paras: Array<{ text: string; sentences: number }> = [];
    for (const p of page.paragraphs) {
      if (boiler.has(p)) continue;
      // Exact repeats of a paragraph already in the corpus (shared includes, copied notes).
      const h = sha1(p);
      if (seenParas.has(h)) {
        stats.repeatedParagraphsDropped++;
        continue;
      }
      seenParas.add(h);
      paras.push({ text: p, sentences: countSentences(p) });
    }
    const total = paras.reduce((n, p) => n + p.sentences, 0);
    if (total < MIN_SENTENCES_PER_PAGE) {
      stats.skippedTiny++;
      continue;
    }
    const parts = splitParts(paras);
    if (parts.length > 1) stats.splitPages++;
    seq++;
    const base = `${String(seq).padStart(6, "0")}-${slug(pkg)}-${slug(page.rel)}`;
    parts.forEach((part, k) => {
      articles.push({
        name: parts.length > 1 ? `${base}-part${k + 1}` : base,
        title: parts.length > 1 ? `${page.title} (part ${k + 1})` : page.title,
        pkg,
        body: part.map((p) => p.text).join("\n\n"),
        sentences: part.reduce((n, p) => n + p.sentences, 0),
      });
    });
  }
  return { articles, stats };
}

function renderArticle(a: Article): string {
  const title = a.title.replace(/[\r\n]+/g, " ");
  return `---\ntitle: ${title}\nsource: ${a.pkg}\n---\n${a.body}\n`;
}

// ---------------------------------------------------------------------------------------------
// Stage 5: corpora and manifest
// ---------------------------------------------------------------------------------------------

interface SizeEntry {
  target: number;
  dir: string;
  files: number;
  sentences: number;
  bytes: number;
  reached: boolean;
  filesBySource: Record<string, number>;
  sentencesBySource: Record<string, number>;
}

interface Manifest {
  generatedAt: string;
  script: string;
  buildKey: string;
  sentenceCounter: string;
  format: string;
  packages: Array<{ name: string; version: string; deb: string; debBytes: number; license: string; note: string; htmlFiles: number }>;
  downloadBytes: number;
  availableSentences: number;
  availableArticles: number;
  stats: BuildStats;
  sizes: Record<string, SizeEntry>;
}

async function countTxt(dir: string): Promise<number> {
  if (!existsSync(dir)) return -1;
  return (await fs.readdir(dir)).filter((f) => f.endsWith(".txt")).length;
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
  }
}

async function writeCorpora(outDir: string, labels: string[], articles: Article[]): Promise<Record<string, SizeEntry>> {
  const entries: Record<string, SizeEntry> = {};
  // How many leading articles each size needs.
  const cut = new Map<string, number>();
  for (const label of labels) {
    const target = parseSize(label);
    let n = 0;
    let s = 0;
    while (n < articles.length && s < target) s += articles[n++]!.sentences;
    cut.set(label, n);
    const taken = articles.slice(0, n);
    const filesBySource: Record<string, number> = {};
    const sentencesBySource: Record<string, number> = {};
    let bytes = 0;
    for (const a of taken) {
      filesBySource[a.pkg] = (filesBySource[a.pkg] ?? 0) + 1;
      sentencesBySource[a.pkg] = (sentencesBySource[a.pkg] ?? 0) + a.sentences;
      bytes += Buffer.byteLength(renderArticle(a));
    }
    entries[label] = {
      target,
      dir: `corpus-${label}`,
      files: n,
      sentences: s,
      bytes,
      reached: s >= target,
      filesBySource,
      sentencesBySource,
    };
  }
  const largest = labels[labels.length - 1]!;
  const bigDir = path.join(outDir, `corpus-${largest}`);
  const total = labels.reduce((n, l) => n + cut.get(l)!, 0);
  const bar = newBar("write", "files");
  bar.start(total, 0, { detail: "" });
  try {
    // The largest corpus is written; smaller ones are hard links to its first files.
    const bigTmp = `${bigDir}.tmp-${process.pid}`;
    await rmrf(bigTmp);
    await fs.mkdir(bigTmp, { recursive: true });
    const nBig = cut.get(largest)!;
    for (let i = 0; i < nBig; i++) {
      const a = articles[i]!;
      await fs.writeFile(path.join(bigTmp, `${a.name}.txt`), renderArticle(a));
      if (i % 200 === 0 || i === nBig - 1) bar.update(i + 1, { detail: `corpus-${largest}` });
    }
    await rmrf(bigDir);
    await fs.rename(bigTmp, bigDir);
    let done = nBig;
    for (const label of labels.slice(0, -1)) {
      const dir = path.join(outDir, `corpus-${label}`);
      const tmp = `${dir}.tmp-${process.pid}`;
      await rmrf(tmp);
      await fs.mkdir(tmp, { recursive: true });
      const n = cut.get(label)!;
      for (let i = 0; i < n; i++) {
        const name = `${articles[i]!.name}.txt`;
        await linkOrCopy(path.join(bigDir, name), path.join(tmp, name));
        if (i % 200 === 0 || i === n - 1) bar.update(done + i + 1, { detail: `corpus-${label} (links)` });
      }
      done += n;
      await rmrf(dir);
      await fs.rename(tmp, dir);
    }
  } finally {
    bar.stop();
  }
  return entries;
}

async function duBytes(dir: string): Promise<number> {
  try {
    const { stdout } = await execFileAsync("du", ["-sb", dir]);
    return Number(stdout.split(/\s+/)[0]);
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

interface Options {
  sizes: string[];
  out: string;
  force: boolean;
  keepUnpacked: boolean;
  packages?: string[];
}

async function main(opts: Options): Promise<void> {
  const t0 = Date.now();
  const outDir = path.resolve(opts.out);
  const cacheDir = path.join(outDir, "cache");
  const debDir = path.join(cacheDir, "debs");
  const unpackDir = path.join(cacheDir, "unpacked");
  const extractDir = path.join(cacheDir, "extracted");
  const manifestPath = path.join(outDir, "manifest.json");

  let sources = SOURCES;
  if (opts.packages) {
    const unknown = opts.packages.filter((p) => !SOURCES.some((s) => s.pkg === p));
    if (unknown.length) {
      throw new UserError(`unknown package(s) ${unknown.join(", ")}; known: ${SOURCES.map((s) => s.pkg).join(", ")}`);
    }
    sources = SOURCES.filter((s) => opts.packages!.includes(s.pkg));
  }

  say(`citebot large corpus → ${outDir} (sizes ${opts.sizes.join(", ")})`);
  const debs = await download(sources, debDir);
  const downloadBytes = debs.reduce((n, d) => n + d.bytes, 0);
  say(
    `download  ${debs.filter((d) => d.downloaded).length} downloaded, ${debs.filter((d) => !d.downloaded).length} cached ` +
      `(${fmtBytes(downloadBytes)} of .deb files)`,
  );

  const buildKey = sha1(
    JSON.stringify({
      EXTRACT_VERSION,
      BUILD_VERSION,
      debs: debs.map((d) => d.file),
      src: sources.map((s) => [s.pkg, s.root, s.include?.source, s.exclude?.source]),
    }),
  );

  // Fast path: every requested corpus is in place and was built from the same inputs.
  let previous: Manifest | undefined;
  if (existsSync(manifestPath)) {
    try {
      previous = JSON.parse(await fs.readFile(manifestPath, "utf8")) as Manifest;
    } catch {
      previous = undefined;
    }
  }
  if (!opts.force && previous?.buildKey === buildKey) {
    const ok = await Promise.all(
      opts.sizes.map(async (l) => {
        const e = previous!.sizes[l];
        return e !== undefined && (await countTxt(path.join(outDir, e.dir))) === e.files;
      }),
    );
    if (ok.every(Boolean)) {
      for (const l of opts.sizes) {
        const e = previous.sizes[l]!;
        say(`up to date corpus-${l}: ${fmtInt(e.files)} files, ${fmtInt(e.sentences)} sentences`);
      }
      say(`nothing to do (${((Date.now() - t0) / 1000).toFixed(1)} s); --force rebuilds`);
      return;
    }
  }

  const plan = await planExtraction(sources, debs, extractDir);
  if (plan.todo.length > 0) {
    await unpack(
      plan.todo.map((t) => t.deb),
      debDir,
      unpackDir,
    );
  } else {
    say(`extract   all ${sources.length} packages already extracted in ${extractDir}`);
  }
  const extracted = await extractAll(plan, unpackDir, opts.keepUnpacked);
  const { articles, stats } = buildArticles(sources, extracted);
  const available = articles.reduce((n, a) => n + a.sentences, 0);
  say(
    `build     ${fmtInt(articles.length)} articles, ${fmtInt(available)} sentences from ${fmtInt(stats.pagesExtracted)} pages ` +
      `(skipped: ${stats.skippedTiny} tiny, ${stats.skippedDuplicate} duplicate, ${stats.skippedNonEnglish} non-English; ` +
      `${stats.splitPages} pages split)`,
  );

  const sizes = await writeCorpora(outDir, opts.sizes, articles);

  // Keep entries of other sizes built from the same inputs, if still on disk.
  const merged: Record<string, SizeEntry> = {};
  if (previous?.buildKey === buildKey) {
    for (const [l, e] of Object.entries(previous.sizes)) {
      if (!(l in sizes) && (await countTxt(path.join(outDir, e.dir))) === e.files) merged[l] = e;
    }
  }
  Object.assign(merged, sizes);
  const ordered = Object.fromEntries(Object.entries(merged).sort((a, b) => a[1].target - b[1].target));

  const manifest: Manifest = {
    generatedAt: new Date().toISOString(),
    script: "scripts/prepare-large-corpus.ts",
    buildKey,
    sentenceCounter: "Intl.Segmenter('en', { granularity: 'sentence' }) per paragraph; segments without a letter not counted",
    format: "UTF-8 .txt: '---' / 'title: …' / 'source: <debian package>' / '---' header, then paragraphs separated by blank lines",
    packages: sources.map((s) => {
      const d = debs.find((x) => x.pkg === s.pkg)!;
      return {
        name: s.pkg,
        version: d.version,
        deb: d.file,
        debBytes: d.bytes,
        license: s.license,
        note: s.note,
        htmlFiles: extracted.get(s.pkg)!.htmlFiles,
      };
    }),
    downloadBytes,
    availableSentences: available,
    availableArticles: articles.length,
    stats,
    sizes: ordered,
  };
  const tmp = `${manifestPath}.tmp-${process.pid}`;
  await fs.writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.rename(tmp, manifestPath);

  for (const l of opts.sizes) {
    const e = sizes[l]!;
    const disk = await duBytes(path.join(outDir, e.dir));
    say(
      `corpus-${l}: ${fmtInt(e.files)} files, ${fmtInt(e.sentences)} sentences, ${fmtBytes(e.bytes)} of text` +
        (Number.isFinite(disk) ? `, ${fmtBytes(disk)} on disk` : "") +
        (e.reached ? "" : `  ⚠ target ${fmtInt(e.target)} NOT reached: add packages to SOURCES`),
    );
  }
  say(`manifest  ${manifestPath}`);
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (Object.values(sizes).some((e) => !e.reached)) process.exitCode = 2;
}

const program = new Command()
  .name("prepare-large")
  .description("Build 10k/100k/1m-sentence benchmark corpora from English documentation in Debian packages")
  .option("--sizes <list>", "comma-separated sentence targets (k = thousand, m = million)", parseSizes, parseSizes("10k,100k,1m"))
  .option("--out <dir>", "output folder (cache/, corpus-<size>/, manifest.json)", "data/large")
  .option("--packages <list>", "only these packages of the built-in list (comma-separated)", (v: string) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .option("--force", "rebuild the corpora even when the manifest says they are up to date", false)
  .option("--keep-unpacked", "keep the unpacked packages under cache/unpacked/ after extraction", false)
  .action(async (o: Options) => {
    try {
      await main(o);
    } catch (err) {
      if (err instanceof UserError) {
        process.stderr.write(`\nerror: ${err.message}\n`);
        process.exit(1);
      }
      throw err;
    }
  });

// Only run as a script (the helpers above can be imported by tests).
const invoked = process.argv[1] ? path.resolve(process.argv[1]) : "";
if (invoked.endsWith(path.join("scripts", "prepare-large-corpus.ts"))) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`\nerror: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
