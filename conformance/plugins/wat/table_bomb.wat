;; A table declared with a billion elements: instantiation must be refused, not allocate
;; gigabytes.
(module
  (table 0x40000000 funcref)
  (func (export "run") (result i32) (i32.const 0)))
