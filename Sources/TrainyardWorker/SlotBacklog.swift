/// Watermarks for the claimed requests waiting for a concurrency slot: consumption pauses when
/// `capacity` of them wait and resumes when at most half do, so a full target neither stops
/// every partition at its first waiting job nor lets memory grow without bound.
struct SlotBacklog {
    let capacity: Int

    /// Whether consumption should be paused for the backlog, given whether it is paused now.
    func isFull(waiting: Int, paused: Bool) -> Bool {
        paused ? waiting > capacity / 2 : waiting >= capacity
    }
}
