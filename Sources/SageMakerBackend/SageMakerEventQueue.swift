import Foundation
import Logging
import TrainyardAWS

/// Long-polls the SQS queue that an EventBridge rule fills with SageMaker job state-change
/// events, and feeds them to the state cache.
///
/// Uses SQS's JSON protocol (`AmazonSQS.*`, JSON 1.0), which AWS and the emulator both speak.
/// AWS documents that EventBridge may deliver an event more than once and out of order; the
/// cache's forward-only merge makes that harmless. A message is deleted only when the state it
/// carried has been returned to the worker (see `SageMakerStateCache`); messages about jobs no
/// worker tracks here become visible again for the other workers of the fleet. Any message is
/// deleted at its `maxReceives`-th reception (Describe reconciliation is the authority anyway),
/// and messages that are not Trainyard SageMaker events at once.
struct SageMakerEventQueue: Sendable {
    let sqs: AWSJSONClient
    let queueURL: URL
    let waitSeconds: Int
    let maxReceives: Int
    let cache: SageMakerStateCache<ContinuousClock>
    let logger: Logger

    /// Receives until cancelled; failures are logged and retried after a pause.
    func run() async {
        while !Task.isCancelled {
            do {
                try await receiveOnce()
            } catch {
                logger.warning("SageMaker event queue: receive failed, retrying in 5 s: \(error)")
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    /// One long poll: every message is applied to the cache or dropped.
    func receiveOnce() async throws(AWSError) {
        let response = try await sqs.call(
            "ReceiveMessage",
            [
                "QueueUrl": .string(queueURL.absoluteString), "MaxNumberOfMessages": 10, "WaitTimeSeconds": .number(Double(waitSeconds)),
                "MessageSystemAttributeNames": ["ApproximateReceiveCount"], "AttributeNames": ["ApproximateReceiveCount"],
            ])
        var drop: [String] = []
        for message in response["Messages"]?.array ?? [] {
            guard let receipt = message["ReceiptHandle"]?.string else { continue }
            guard let body = message["Body"]?.string, let event = SageMakerStateEvent(body: Array(body.utf8)) else {
                logger.warning("SageMaker event queue: dropping a message that is not a Trainyard SageMaker state-change event")
                drop.append(receipt)
                continue
            }
            let receives = message["Attributes"]?["ApproximateReceiveCount"]?.string.flatMap { Int($0) } ?? 1
            if receives >= maxReceives {
                await cache.record(event.name, event.status)
                drop.append(receipt)
            } else if await cache.isTracked(event.name) {
                await cache.record(event.name, event.status, receipt: receipt)
            } else {
                await cache.record(event.name, event.status)
            }
            logger.debug(
                "SageMaker event",
                metadata: ["job": "\(event.name)", "status": "\(event.status.status)", "secondary": "\(event.status.secondaryStatus ?? "-")"])
        }
        await delete(drop)
    }

    /// Deletes messages (in batches of 10, SQS's limit); failures only delay deletion: the
    /// messages come back and are applied again, which is harmless.
    func delete(_ receipts: [String]) async {
        guard !receipts.isEmpty else { return }
        for start in stride(from: 0, to: receipts.count, by: 10) {
            let batch = receipts[start..<min(start + 10, receipts.count)]
            let entries: [JSONValue] = batch.enumerated().map { ["Id": .string("m\($0.offset)"), "ReceiptHandle": .string($0.element)] }
            do {
                _ = try await sqs.call("DeleteMessageBatch", ["QueueUrl": .string(queueURL.absoluteString), "Entries": .array(entries)])
            } catch {
                logger.warning("SageMaker event queue: delete failed (the messages will be received again): \(error)")
            }
        }
    }
}

/// A SageMaker training / processing job state-change event (EventBridge envelope) about a
/// Trainyard job.
struct SageMakerStateEvent: Equatable {
    var name: String
    var status: SageMakerJobStatus

    /// Nil for other sources or detail types, malformed bodies and jobs not named by Trainyard.
    init?(body: [UInt8]) {
        guard let event = JSONValue.decode(body), event["source"]?.string == "aws.sagemaker", let detail = event["detail"],
            let kind = SageMakerJobKind.allCases.first(where: { $0.eventDetailType == event["detail-type"]?.string }),
            let name = detail[kind.nameField]?.string, name.hasPrefix("ty-"), let status = SageMakerJobStatus(kind: kind, document: detail)
        else { return nil }
        self.name = name
        self.status = status
    }
}
