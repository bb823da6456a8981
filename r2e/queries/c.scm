; tree-sitter-c query used by r2e/analysis/c: references inside top-level units.
; The indexer walks the top level itself (to follow #if/#ifdef nesting); these captures are
; bucketed into the unit whose byte range holds them.

; calls (function calls and function-like macro invocations look the same to the parser)
(call_expression function: (identifier) @reference.call)

; every ordinary identifier and typedef name used
(identifier) @reference.name
(type_identifier) @reference.type
(true) @reference.name
(false) @reference.name

; `s->Freq` where `#define Freq fc.freq`: a field name that is also a macro is a reference
(field_expression field: (field_identifier) @reference.field)

; tag references (struct/union/enum namespaces)
(struct_specifier name: (type_identifier) @reference.struct)
(union_specifier name: (type_identifier) @reference.union)
(enum_specifier name: (type_identifier) @reference.enum)

; macro bodies and #if conditions are opaque text to the parser
(preproc_arg) @reference.macro_text

; local names (parameters and block-scope declarations) shadow file-scope ones
(parameter_declaration declarator: (identifier) @definition.local)
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @definition.local))
(parameter_declaration declarator: (array_declarator declarator: (identifier) @definition.local))
(compound_statement (declaration declarator: (identifier) @definition.local))
(compound_statement (declaration declarator: (init_declarator declarator: (identifier) @definition.local)))
(compound_statement (declaration declarator: (pointer_declarator declarator: (identifier) @definition.local)))
(compound_statement (declaration declarator: (init_declarator declarator: (pointer_declarator declarator: (identifier) @definition.local))))
(compound_statement (declaration declarator: (array_declarator declarator: (identifier) @definition.local)))
(compound_statement (declaration declarator: (init_declarator declarator: (array_declarator declarator: (identifier) @definition.local))))
; K&R: `int f(a, b) int a; char *b; { ... }`
(parameter_list (identifier) @definition.local)
