/// A keyed cache that keeps at most `capacity` values, dropping the least recently used one when
/// full: a worker serving job after job with new models keeps only the last few compiled (each
/// holds packed weights and, for INT8, a helper-thread pool) instead of every model it ever saw.
public struct RecentlyUsedCache<Value> {
    public let capacity: Int
    private var values: [String: Value] = [:]
    /// Keys from least to most recently used.
    private var order: [String] = []

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public var count: Int { values.count }

    /// The value for `key`, marking it most recently used.
    public mutating func value(for key: String) -> Value? {
        guard let v = values[key] else { return nil }
        touch(key)
        return v
    }

    /// Stores `value` as the most recently used, evicting the least recently used beyond capacity.
    public mutating func insert(_ value: Value, for key: String) {
        values[key] = value
        touch(key)
        while order.count > capacity { values[order.removeFirst()] = nil }
    }

    private mutating func touch(_ key: String) {
        order.removeAll { $0 == key }
        order.append(key)
    }
}
