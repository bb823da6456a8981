; R2E Python query: references, calls, local bindings and returns.
; The adapter (r2e/analysis/python_lang.py) buckets every capture into the module-level unit
; (function, class member, assignment, import, block header) whose byte range holds it.

; ---- references: names and dotted chains a unit reads
(identifier) @reference.name
(attribute) @reference.attribute
(call function: (_) @reference.call)
; annotations: names inside string annotations ("Context", "t.Optional[Node]") are references too
(type) @reference.type

; identifiers that are not references to a variable
(attribute attribute: (identifier) @ignore)
(keyword_argument name: (identifier) @ignore)

; ---- bindings: names a function body makes local
(parameters (identifier) @local)
(lambda_parameters (identifier) @local)
(default_parameter name: (identifier) @local)
(typed_parameter (identifier) @local)
(typed_default_parameter name: (identifier) @local)
(list_splat_pattern (identifier) @local)
(dictionary_splat_pattern (identifier) @local)
(assignment left: (identifier) @local)
(augmented_assignment left: (identifier) @local)
(pattern_list (identifier) @local)
(tuple_pattern (identifier) @local)
(list_pattern (identifier) @local)
(for_statement left: (identifier) @local)
(for_in_clause left: (identifier) @local)
(as_pattern_target (identifier) @local)
(named_expression name: (identifier) @local)
(function_definition name: (identifier) @local)
(class_definition name: (identifier) @local)
(aliased_import alias: (identifier) @local)
(import_statement name: (dotted_name . (identifier) @local))
(import_from_statement name: (dotted_name . (identifier) @local))
(global_statement (identifier) @global)

; ---- returns and yields (the signature filter)
(return_statement) @return
(yield) @yield
