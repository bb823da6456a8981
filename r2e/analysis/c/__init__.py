"""C analysis: functions, call graph and compilable dependency slices.

C is a language of the analysis seam (`r2e.analysis.languages.ADAPTERS["c"]`), so `r2e extract`
and `r2e graph` handle it through `r2e.analysis.driver` like Python: `FunctionRecord`s with
`lang: "c"` (plus `is_static` in `extra`). `r2e.analysis.c.extract.extract_c_repo(root, repo_id,
CExtractOptions) -> (records, stats)` is the same path restricted to C (tests, benchmarks).

Modules, one job each:
  cxx.py       C++ in a .h/.c file (classes, templates, C++-only headers): kept out of the C index
  index.py     tree-sitter-c index of one file (units under their #if conditions); query r2e/queries/c.scm
  masking.py   decoration macros (ZEXPORT, `local`, OF((..)), ZSTD_DEPRECATED(..), __attribute__) hidden
               from the parser; top-level macro invocations (`BROTLI_MIN_MAX(size_t)`) found
  expand.py    a small macro expander: the names an invocation or an X-macro list defines
  templates.py headers included as templates (`#define HASHER() H2` + `#include "x_inc.h"`), instantiated
  includes.py  include directories (compile_commands.json or guessed) and `#include` resolution
  sysnames.py  the names a file's system headers declare, from the compiler (`write` is <unistd.h>'s)
  repo.py      symbol tables with static scoping, visibility through includes, call graph (networkx)
  slicer.py    the slice: a self-contained translation unit, within a token budget
  adapter.py   the seam adapter: CUnit <-> Unit, macro table + include dirs prepared per repository
               (its digest in the parse-cache key), the slicer, C filter facts, the graph
  extract.py   the driver restricted to C: extract_c_repo, index_c_repo
  ccheck.py    `cc -fsyntax-only` on a slice (tests and benchmarks/c_slices.py)
"""
