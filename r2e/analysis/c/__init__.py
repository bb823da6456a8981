"""C analysis: functions, call graph and compilable dependency slices (issue 5).

Entry point: `r2e.analysis.c.extract.extract_c_repo(root, repo_id, CExtractOptions) -> (records, stats)`
returning issue-4 records with `lang: "c"` (plus `is_static`, `context_files`, `context_trimmed`).

Modules, one job each:
  index.py     tree-sitter-c index of one file (units under their #if conditions); query r2e/queries/c.scm
  masking.py   decoration macros (ZEXPORT, `local`, OF((..)), extern "C") hidden from the parser
  includes.py  include directories (compile_commands.json or guessed) and `#include` resolution
  repo.py      symbol tables with static scoping, visibility through includes, call graph (networkx)
  slicer.py    the slice: a self-contained translation unit, within a token budget
  extract.py   walk -> index -> resolve -> filters -> slices -> records
  ccheck.py    `cc -fsyntax-only` on a slice (tests and benchmarks/c_slices.py)
"""
