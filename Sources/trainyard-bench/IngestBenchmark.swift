import Foundation
import TrainyardCore
import TrainyardStore

/// The store's side of the aggregator alone: applies the messages of `ops/bench-aggregator`'s
/// generator to a fresh store in batches, as the aggregator's writer thread does, and drains the
/// status outbox after each batch as its publisher does. Reports the CPU time of the calling
/// thread (which runs every store call) per 1,000 messages: no broker, no Kafka client and no
/// timing of deliveries, so the figure moves with the store's work and little else.
///
/// Usage: `trainyard-bench ingest REQUESTS_TSV EVENTS_TSV [BATCH] [CHUNK]` (files of
/// `key<TAB>value` lines, as `bench.py generate` writes them). Line N of either file goes to
/// partition N mod 12 of its topic; batches of BATCH messages (default 1000) take CHUNK
/// consecutive messages (default 1000) of one partition at a time, the partitions in turn, as a
/// consumer drains one fetch response per partition.
enum IngestBenchmark {
    static let partitions = 12

    static func run(_ arguments: [String]) throws {
        guard arguments.count >= 2, arguments.count <= 4 else {
            FileHandle.standardError.write(Data("usage: trainyard-bench ingest REQUESTS_TSV EVENTS_TSV [BATCH] [CHUNK]\n".utf8))
            exit(2)
        }
        let batchSize = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
        let chunk = arguments.count > 3 ? Int(arguments[3]) ?? 1000 : 1000
        let topics = TopicNames(prefix: "bench")
        let messages = try delivered(
            [
                try partitioned(arguments[0], topic: topics.requests, decode: request),
                try partitioned(arguments[1], topic: topics.events, decode: event),
            ],
            chunk: chunk)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trainyard-bench-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try JobStore(path: folder.appendingPathComponent("store.db").path)

        var applying = 0.0
        var publishing = 0.0
        var batches = 0
        var published = 0
        for start in stride(from: 0, to: messages.count, by: batchSize) {
            let batch = Array(messages[start..<min(start + batchSize, messages.count)])
            applying += try threadSeconds { try store.apply(batch) }
            publishing += try threadSeconds {
                while true {
                    let pending = try store.pendingStatus(limit: 5000)
                    guard let last = pending.last else { break }
                    published += pending.count
                    try store.deleteStatus(through: last.sequence)
                }
            }
            batches += 1
        }
        let thousands = Double(messages.count) / 1000
        print(
            String(
                format:
                    "ingest: messages=%d batches=%d statuses=%d apply_cpu_ms_per_1k_msgs=%.1f outbox_cpu_ms_per_1k_msgs=%.1f store_cpu_ms_per_1k_msgs=%.1f",
                messages.count, batches, published, applying * 1000 / thousands, publishing * 1000 / thousands,
                (applying + publishing) * 1000 / thousands))
    }

    /// The messages of one topic's file, by partition, each partition's in file order.
    private static func partitioned(_ path: String, topic: String, decode: (Data) -> IngestRecord) throws -> [[IngestMessage]] {
        var byPartition = [[IngestMessage]](repeating: [], count: partitions)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        for (index, line) in lines.enumerated() {
            guard let tab = line.firstIndex(of: "\t") else { continue }
            let partition = index % partitions
            let position = MessagePosition(topic: topic, partition: Int32(partition), offset: Int64(byPartition[partition].count))
            byPartition[partition].append(IngestMessage(position: position, record: decode(Data(line[line.index(after: tab)...].utf8))))
        }
        return byPartition
    }

    /// All partitions' messages in one stream: `chunk` of one partition, then of the next, in turn.
    private static func delivered(_ topics: [[[IngestMessage]]], chunk: Int) throws -> [IngestMessage] {
        var queues = topics.flatMap { $0 }.map { $0[...] }
        var stream: [IngestMessage] = []
        while queues.contains(where: { !$0.isEmpty }) {
            for index in queues.indices where !queues[index].isEmpty {
                stream += queues[index].prefix(chunk)
                queues[index] = queues[index].dropFirst(chunk)
            }
        }
        return stream
    }

    private static func request(_ value: Data) -> IngestRecord {
        switch JobRequestCodec.decode(value) {
        case .success(.submit(let command)): .submitted(command)
        case .success(.cancel(let command)): .cancelRequested(command)
        case .failure(let rejection): .rejected(jobID: rejection.jobID, reason: rejection.description)
        }
    }

    private static func event(_ value: Data) -> IngestRecord {
        do {
            return .event(try LifecycleEventCodec.decode(value))
        } catch {
            return .rejected(jobID: nil, reason: "undecodable event: \(error)")
        }
    }

    /// The CPU time (user + system) this thread spends in `body`, in seconds.
    private static func threadSeconds(_ body: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let start = now()
        try body()
        return now() - start
    }
}
