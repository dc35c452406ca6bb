import TrainyardCore
import TrainyardKafka

/// Where the worker records a request it cannot use: the DLQ, then (when its job id is known)
/// the job's REJECTED event. Each call is one try that throws when the record was not stored;
/// the worker retries in one loop and pauses consumption while recording keeps failing.
public protocol RejectionRecording: Sendable {
    /// Stores the request's original bytes in the DLQ with the reason in headers.
    func deadLetter(_ message: KafkaMessage, rejection: RequestRejection) async throws
    /// Stores the job's REJECTED event.
    func publishRejected(_ event: LifecycleEvent) async throws
}
