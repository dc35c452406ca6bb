import TrainyardCore

/// The two SageMaker job families Trainyard creates, with their API vocabulary.
public enum SageMakerJobKind: String, Sendable, CaseIterable {
    case training
    case processing

    /// `processing` specs become processing jobs; every other kind a training job.
    public init(_ kind: JobKind) { self = kind == .processing ? .processing : .training }

    var noun: String { self == .training ? "TrainingJob" : "ProcessingJob" }
    var nameField: String { "\(noun)Name" }
    var statusField: String { "\(noun)Status" }
    var startField: String { self == .training ? "TrainingStartTime" : "ProcessingStartTime" }
    var endField: String { self == .training ? "TrainingEndTime" : "ProcessingEndTime" }
    /// The EventBridge `detail-type` of this kind's state changes.
    var eventDetailType: String { self == .training ? "SageMaker Training Job State Change" : "SageMaker Processing Job State Change" }
}
