import OctetCluster
import XCTest

/// The worker's model cache keeps the most recently used entries up to its capacity.
final class RecentlyUsedCacheTests: XCTestCase {
    func testKeepsTheMostRecentlyUsedUpToCapacity() {
        var c = RecentlyUsedCache<Int>(capacity: 2)
        c.insert(1, for: "a")
        c.insert(2, for: "b")
        XCTAssertEqual(c.value(for: "a"), 1)      // "a" is now the most recently used
        c.insert(3, for: "c")                      // evicts "b", the least recently used
        XCTAssertNil(c.value(for: "b"))
        XCTAssertEqual(c.value(for: "a"), 1)
        XCTAssertEqual(c.value(for: "c"), 3)
        XCTAssertEqual(c.count, 2)
        c.insert(4, for: "c")                      // replacing a key does not evict
        XCTAssertEqual(c.count, 2)
        XCTAssertEqual(c.value(for: "c"), 4)
        XCTAssertEqual(c.value(for: "a"), 1)
        var one = RecentlyUsedCache<Int>(capacity: 0) // at least one entry is kept
        one.insert(7, for: "x")
        XCTAssertEqual(one.value(for: "x"), 7)
    }
}
