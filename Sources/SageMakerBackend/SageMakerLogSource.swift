import Foundation
import Synchronization
import TrainyardAWS
import TrainyardBackends
import TrainyardCore

/// Reads an attempt's log from CloudWatch Logs, where SageMaker writes it: the group
/// `/aws/sagemaker/TrainingJobs` or `/aws/sagemaker/ProcessingJobs`, streams named
/// `<job name>/<host>-<n>`, read with FilterLogEvents (all of the job's streams interleaved by
/// time). The container's log holds stdout and stderr together, so every stream selection reads
/// the same text.
public struct SageMakerLogSource: LogSource {
    public let backendName = "sagemaker"
    /// The CloudWatch Logs client (`signingName: logs`, `targetPrefix: Logs_20140328`, JSON 1.1).
    let logs: AWSJSONClient
    let poller: LogPoller

    public init(logs: AWSJSONClient, poller: LogPoller = LogPoller(interval: .seconds(2))) {
        self.logs = logs
        self.poller = poller
    }

    /// The log group SageMaker writes a job of `kind` to.
    public static func logGroup(for kind: JobKind?) -> String {
        kind.map(SageMakerJobKind.init) == .processing ? "/aws/sagemaker/ProcessingJobs" : "/aws/sagemaker/TrainingJobs"
    }

    public func read(_ query: LogQuery, attemptEnded: @escaping @Sendable () async -> Bool) async throws -> AsyncThrowingStream<String, any Error> {
        let reader = CloudWatchLogReader(logs: logs, group: Self.logGroup(for: query.kind), streamPrefix: "\(query.identity.resourceName)/")
        // The first page decides whether there is a log at all (a missing group is a 404).
        var first = try await reader.readMore()
        if first.isEmpty, !query.follow, await reader.groupMissing {
            throw LogSourceError(.notFound, "no CloudWatch log group \(reader.group)")
        }
        if let tail = query.tail {
            // FilterLogEvents reads forward only: read what is there, keep the last lines.
            while true {
                let more = try await reader.readMore()
                if more.isEmpty { break }
                first = String(lastLines(of: (first + more)[...], count: tail))
            }
            first = String(lastLines(of: first[...], count: tail))
        }
        let head = FirstText(first)
        return poller.stream(follow: query.follow, attemptEnded: attemptEnded) { _ in
            if let text = head.take() { return text }
            return try await reader.readMore()
        }
    }
}

/// Text read before the stream started, handed out once.
private final class FirstText: Sendable {
    private let text: Mutex<String?>

    init(_ text: String) { self.text = Mutex(text.isEmpty ? nil : text) }

    func take() -> String? {
        text.withLock { text in
            defer { text = nil }
            return text
        }
    }
}

/// Pages through FilterLogEvents and, once at the end, polls for newer events. Each poll asks
/// again for the last `overlap` before the newest event seen, because CloudWatch may make an
/// event visible after a later one of another stream; events are told apart by their ids.
actor CloudWatchLogReader {
    static let overlapMilliseconds = 10_000.0
    /// Empty pages (CloudWatch still searching) followed in one read before it returns.
    static let maxPagesPerRead = 50

    let logs: AWSJSONClient
    let group: String
    let streamPrefix: String
    var nextToken: String?
    var newestTimestamp: Double?
    /// Event ids seen within `overlap` of the newest, with their timestamps.
    var recent: [String: Double] = [:]
    var groupMissing = false

    init(logs: AWSJSONClient, group: String, streamPrefix: String) {
        self.logs = logs
        self.group = group
        self.streamPrefix = streamPrefix
    }

    /// The messages not returned before, as lines; empty when there is nothing new.
    func readMore() async throws -> String {
        var text = ""
        var pages = 0
        repeat {
            pages += 1
            text += try await readPage()
        } while text.isEmpty && nextToken != nil && pages < Self.maxPagesPerRead
        return text
    }

    private func readPage() async throws -> String {
        var request: [String: JSONValue] = [
            "logGroupName": .string(group), "logStreamNamePrefix": .string(streamPrefix), "limit": 1000,
        ]
        if let nextToken {
            request["nextToken"] = .string(nextToken)
        } else if let newestTimestamp {
            request["startTime"] = .number(max(0, newestTimestamp - Self.overlapMilliseconds))
        }
        let page: JSONValue
        do {
            page = try await logs.call("FilterLogEvents", .object(request))
        } catch let error where error.code == "ResourceNotFoundException" {
            groupMissing = true
            nextToken = nil
            return ""
        } catch {
            throw LogSourceError(.unavailable, "CloudWatch Logs: \(error)")
        }
        groupMissing = false
        nextToken = page["nextToken"]?.string
        var text = ""
        for event in page["events"]?.array ?? [] {
            guard let timestamp = event["timestamp"]?.number else { continue }
            let message = event["message"]?.string ?? ""
            let id = event["eventId"]?.string ?? "\(timestamp)/\(event["logStreamName"]?.string ?? "")/\(message)"
            if recent[id] != nil { continue }
            if let newestTimestamp, timestamp < newestTimestamp - Self.overlapMilliseconds { continue }
            recent[id] = timestamp
            newestTimestamp = max(newestTimestamp ?? timestamp, timestamp)
            text += message.hasSuffix("\n") ? message : message + "\n"
        }
        if let newestTimestamp { recent = recent.filter { $0.value >= newestTimestamp - Self.overlapMilliseconds } }
        return text
    }
}
