import TrainyardCore
import TrainyardKafka
import TrainyardStore

/// The pure "convert" step: what one consumed message means to the store.
public enum IngestConverter {
    public static func convert(_ message: KafkaMessage, topics: TopicNames) -> IngestMessage {
        let position = MessagePosition(topic: message.topic, partition: message.partition, offset: message.offset)
        let record: IngestRecord
        if message.topic == topics.requests {
            switch JobRequestCodec.decode(message.value) {
            case .success(.submit(let command)): record = .submitted(command)
            case .success(.cancel(let command)): record = .cancelRequested(command)
            case .failure(let rejection): record = .rejected(jobID: rejection.jobID, reason: rejection.description)
            }
        } else {
            do {
                record = .event(try LifecycleEventCodec.decode(message.value))
            } catch {
                record = .rejected(jobID: nil, reason: "undecodable event: \(error)")
            }
        }
        return IngestMessage(position: position, record: record)
    }
}
