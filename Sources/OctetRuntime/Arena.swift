/// Offsets of activation buffers in one per-image arena, reusing memory of values whose
/// last reader has run (greedy first fit over the step order).
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
