;; CRC-32 (IEEE 802.3, as zlib.crc32) by slice-by-8, the loop of crc32UpdateJs in crc32.ts, as WebAssembly:
;; without JavaScript's bounds checks and number tagging it runs about twice as fast on a 300-byte frame.
;; crcFrames checksums a writer's frames two at a time: one CRC's 8-byte steps wait on their own table
;; loads, so a second, independent CRC in the same loop runs in the time the first one waits.
;; Memory: eight 256-entry i32 tables at bytes 0..8191 (table t at t*1024, filled by crc32.ts), then the
;; frame list of crcFrames (u32 addresses), then data.
;; Build: npm run build:wasm (wat2wasm from Debian's wabt) writes crc32-wasm-bytes.ts beside this file.
(module
  (memory (export "memory") 1)
  ;; The unfinished (inverted) CRC state $c continued over memory[p, end).
  (func $update (param $c i32) (param $p i32) (param $end i32) (result i32)
    (block $eightDone
      (loop $eight
        (br_if $eightDone (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
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
        (br $eight)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c
          (i32.xor (i32.load (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
                   (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $one)))
    (local.get $c))
  ;; CRC-32 of memory[p, p+n) continued from $c (the finished CRC of the bytes before; 0 for none).
  (func (export "crc32") (param $c i32) (param $p i32) (param $n i32) (result i32)
    (i32.xor
      (call $update (i32.xor (local.get $c) (i32.const -1)) (local.get $p) (i32.add (local.get $p) (local.get $n)))
      (i32.const -1)))
  ;; For each of the $count frame addresses at $list: the CRC-32 of the frame's payload (u32le length at
  ;; the frame's start, payload from byte 8) stored as u32le at byte 4, two frames per loop.
  (func (export "crcFrames") (param $list i32) (param $count i32)
    (local $listEnd i32) (local $a i32) (local $b i32) (local $pa i32) (local $pb i32)
    (local $ea i32) (local $eb i32) (local $ca i32) (local $cb i32) (local $stop i32)
    (local.set $listEnd (i32.add (local.get $list) (i32.shl (local.get $count) (i32.const 2))))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.gt_u (i32.add (local.get $list) (i32.const 8)) (local.get $listEnd)))
        (local.set $a (i32.load (local.get $list)))
        (local.set $b (i32.load offset=4 (local.get $list)))
        (local.set $pa (i32.add (local.get $a) (i32.const 8)))
        (local.set $pb (i32.add (local.get $b) (i32.const 8)))
        (local.set $ea (i32.add (local.get $pa) (i32.load (local.get $a))))
        (local.set $eb (i32.add (local.get $pb) (i32.load (local.get $b))))
        (local.set $ca (i32.const -1))
        (local.set $cb (i32.const -1))
        ;; Both in step while each has 8 bytes left: $stop is where the shorter one runs out.
        (local.set $stop
          (i32.add (local.get $pa)
            (i32.and
              (select (i32.load (local.get $a)) (i32.load (local.get $b)) (i32.lt_u (i32.load (local.get $a)) (i32.load (local.get $b))))
              (i32.const -8))))
        (block $bothDone
          (loop $both
            (br_if $bothDone (i32.ge_u (local.get $pa) (local.get $stop)))
          (local.set $ca (i32.xor (local.get $ca) (i32.load (local.get $pa))))
          (local.set $ca
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $ca) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $ca) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $ca) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $ca) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.load8_u offset=4 (local.get $pa)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.load8_u offset=5 (local.get $pa)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.load8_u offset=6 (local.get $pa)) (i32.const 2)))
                         (i32.load (i32.shl (i32.load8_u offset=7 (local.get $pa)) (i32.const 2)))))))
          (local.set $cb (i32.xor (local.get $cb) (i32.load (local.get $pb))))
          (local.set $cb
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $cb) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $cb) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $cb) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $cb) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.load8_u offset=4 (local.get $pb)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.load8_u offset=5 (local.get $pb)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.load8_u offset=6 (local.get $pb)) (i32.const 2)))
                         (i32.load (i32.shl (i32.load8_u offset=7 (local.get $pb)) (i32.const 2)))))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 8)))
            (br $both)))
        (i32.store offset=4 (local.get $a) (i32.xor (call $update (local.get $ca) (local.get $pa) (local.get $ea)) (i32.const -1)))
        (i32.store offset=4 (local.get $b) (i32.xor (call $update (local.get $cb) (local.get $pb) (local.get $eb)) (i32.const -1)))
        (local.set $list (i32.add (local.get $list) (i32.const 8)))
        (br $pairs)))
    (if (i32.lt_u (local.get $list) (local.get $listEnd))
      (then
        (local.set $a (i32.load (local.get $list)))
        (local.set $pa (i32.add (local.get $a) (i32.const 8)))
        (i32.store offset=4 (local.get $a)
          (i32.xor (call $update (i32.const -1) (local.get $pa) (i32.add (local.get $pa) (i32.load (local.get $a)))) (i32.const -1))))))
)
