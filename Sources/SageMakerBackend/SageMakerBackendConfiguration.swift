import Foundation

/// Settings of one SageMaker target. Every parameter has a default except the role.
public struct SageMakerBackendConfiguration: Sendable {
    /// The IAM role SageMaker assumes to run the job (`RoleArn`).
    public var roleArn: String
    /// `s3://…` prefix for job artifacts when a spec has no `output`.
    public var defaultOutputPath: String?
    /// The SQS queue that an EventBridge rule fills with SageMaker state-change events; nil:
    /// track by reconciliation (Describe) only.
    public var eventQueueURL: URL?
    /// How often every tracked job is described (the authority), and how old a cached state may
    /// get before it is described again.
    public var reconcileInterval: Duration
    /// SQS long-poll wait (0...20 s).
    public var eventWaitSeconds: Int
    /// VPC placement (`VpcConfig`); both empty: none.
    public var subnets: [String]
    public var securityGroupIDs: [String]
    /// Storage per instance (`VolumeSizeInGB`).
    public var volumeSizeGB: Int
    /// Tags added to every job (cost allocation), before the job's own.
    public var extraTags: [String: String]

    public init(
        roleArn: String, defaultOutputPath: String? = nil, eventQueueURL: URL? = nil, reconcileInterval: Duration = .seconds(60),
        eventWaitSeconds: Int = 20, subnets: [String] = [], securityGroupIDs: [String] = [], volumeSizeGB: Int = 30,
        extraTags: [String: String] = [:]
    ) {
        self.roleArn = roleArn
        self.defaultOutputPath = defaultOutputPath
        self.eventQueueURL = eventQueueURL
        self.reconcileInterval = reconcileInterval
        self.eventWaitSeconds = min(20, max(0, eventWaitSeconds))
        self.subnets = subnets
        self.securityGroupIDs = securityGroupIDs
        self.volumeSizeGB = volumeSizeGB
        self.extraTags = extraTags
    }
}
