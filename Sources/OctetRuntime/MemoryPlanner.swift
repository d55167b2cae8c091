/// The one memory planner of every plan (FP32 and INT8): each value a step writes gets an offset
/// in a per-image arena of floats, and the memory of a value whose last reader has run is reused
/// by the values written after it (greedy best fit over the step order). A step's outputs are
/// placed before its inputs are released, so no step writes over what it reads.
enum MemoryPlanner {
    /// Arena offsets (in floats, 64-byte aligned) of the values `writes` produce, and the arena's size.
    /// - Parameters:
    ///   - inputs: values placed before the first step (the plan's inputs, copied in per image).
    ///   - reads, writes: the values each step reads and writes, in step order.
    ///   - floats: the arena floats a value needs, or nil for a value outside the arena (a constant).
    ///   - keep: values never released (the plan's outputs).
    ///   - reuse: false to give every value its own memory (to see every tensor after a run).
    static func assign<Value: Hashable>(inputs: [Value], reads: [[Value]], writes: [[Value]], floats: (Value) -> Int?,
                                        keep: Set<Value>, reuse: Bool = true) -> (offsets: [Value: Int], size: Int) {
        var layout = ArenaLayout()
        var lastRead: [Value: Int] = [:]
        for (i, r) in reads.enumerated() { for v in r { lastRead[v] = i } }
        var offsets: [Value: Int] = [:]
        func place(_ v: Value) {
            guard offsets[v] == nil, let n = floats(v) else { return }
            offsets[v] = layout.allocate(n)
        }
        for v in inputs { place(v) }
        for (i, w) in writes.enumerated() {
            for v in w { place(v) }
            guard reuse else { continue }
            for v in Set(reads[i] + w) where !keep.contains(v) && (lastRead[v] ?? -1) <= i {
                if let o = offsets[v], let n = floats(v) { layout.release(offset: o, count: n) }
            }
        }
        return (offsets, layout.size)
    }
}

/// Offsets of activation buffers in one per-image arena, reusing memory of values whose
/// last reader has run (greedy best fit over the step order).
struct ArenaLayout {
    private(set) var size = 0
    private var free: [(offset: Int, count: Int)] = []

    static func rounded(_ count: Int) -> Int { (max(count, 1) + 15) / 16 * 16 }

    mutating func allocate(_ count: Int) -> Int {
        let need = Self.rounded(count)
        if let i = free.indices.filter({ free[$0].count >= need }).min(by: { free[$0].count < free[$1].count }) {
            let block = free.remove(at: i)
            if block.count > need { free.append((block.offset + need, block.count - need)) }
            return block.offset
        }
        defer { size += need }
        return size
    }

    mutating func release(offset: Int, count: Int) {
        free.append((offset, Self.rounded(count)))
        free.sort { $0.offset < $1.offset }
        var merged: [(offset: Int, count: Int)] = []
        for b in free {
            if let last = merged.last, last.offset + last.count == b.offset {
                merged[merged.count - 1].count += b.count
            } else {
                merged.append(b)
            }
        }
        free = merged
    }
}
