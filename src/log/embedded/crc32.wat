;; CRC-32 (IEEE 802.3, as zlib.crc32) by slice-by-8, the loop of crc32UpdateJs in crc32.ts, as WebAssembly:
;; without JavaScript's bounds checks and number tagging it runs about twice as fast on a 300-byte frame.
;; Memory: eight 256-entry i32 tables at bytes 0..8191 (table t at t*1024, filled by crc32.ts), data after.
;; Build: npm run build:wasm (wat2wasm from Debian's wabt) writes crc32-wasm-bytes.ts beside this file.
(module
  (memory (export "memory") 1)
  ;; CRC-32 of memory[p, p+n) continued from $c (the finished CRC of the bytes before; 0 for none).
  (func (export "crc32") (param $c i32) (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $end8 i32)
    (local.set $c (i32.xor (local.get $c) (i32.const -1)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $end8 (i32.sub (local.get $end) (i32.const 7)))
    (if (i32.ge_u (local.get $n) (i32.const 8))
      (then
        (loop $eight
          (local.set $c (i32.xor (local.get $c) (i32.load (local.get $p))))
          (local.set $c
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $c) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $c) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.load8_u offset=4 (local.get $p)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.load8_u offset=5 (local.get $p)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.load8_u offset=6 (local.get $p)) (i32.const 2)))
                         (i32.load (i32.shl (i32.load8_u offset=7 (local.get $p)) (i32.const 2)))))))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (br_if $eight (i32.lt_u (local.get $p) (local.get $end8))))))
    (block $done
      (loop $one
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c
          (i32.xor (i32.load (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
                   (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $one)))
    (i32.xor (local.get $c) (i32.const -1)))
)
