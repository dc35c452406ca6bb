import Foundation
import Logging
import SageMakerBackend
import TrainyardAWS
import TrainyardBackends

/// `type: sagemaker` in the worker's configuration file.
///
/// ```yaml
/// - name: sagemaker
///   type: sagemaker
///   concurrency: 8
///   roleArn: arn:aws:iam::123456789012:role/TrainyardSageMakerExecution
///   region: eu-west-1                 # else AWS_REGION, AWS_DEFAULT_REGION, the profile's region
///   eventQueueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/trainyard-sagemaker-events
///   defaultOutputPath: s3://ml-artifacts/trainyard
/// ```
public struct SageMakerTargetSettings: Decodable, Sendable {
    /// The execution role SageMaker assumes (`RoleArn`).
    var roleArn: String
    var region: String?
    /// One endpoint for SageMaker and SQS (an emulator); the per-service keys win over it.
    var endpoint: String?
    /// A VPC interface endpoint for the SageMaker API.
    var sagemakerEndpoint: String?
    /// A VPC interface endpoint for SQS.
    var sqsEndpoint: String?
    /// The SQS queue an EventBridge rule fills with SageMaker state-change events.
    var eventQueueUrl: String?
    /// Seconds between Describe calls per tracked job (default 60).
    var reconcileSeconds: Double?
    /// SQS long-poll wait, 0...20 (default 20).
    var eventWaitSeconds: Int?
    var defaultOutputPath: String?
    var subnets: [String]?
    var securityGroupIds: [String]?
    /// Per-instance storage (default 30).
    var volumeSizeGB: Int?
    /// Tags on every job (cost allocation).
    var tags: [String: String]?
    /// Attempts per AWS call, the first included, for throttling / 5xx / connection errors (default 8).
    var maxAttempts: Int?

    func makeBackend(logger: Logger) throws -> SageMakerBackend {
        let region = try resolveAWSRegion(explicit: region)
        let credentials = AWSCredentialChain()
        let retry = AWSRetryPolicy(maxAttempts: maxAttempts ?? 8)
        func url(_ text: String?, _ key: String) throws -> URL? {
            guard let text else { return nil }
            guard let url = URL(string: text), url.scheme != nil, url.host != nil else {
                throw AWSConfigurationError("\(key) \"\(text)\" is not a URL")
            }
            return url
        }
        let sagemaker = AWSJSONClient(
            configuration: AWSServiceConfiguration(
                endpoint: try url(sagemakerEndpoint ?? endpoint, "sagemakerEndpoint")
                    ?? AWSServiceConfiguration.defaultEndpoint(hostPrefix: "api.sagemaker", region: region),
                region: region, signingName: "sagemaker", targetPrefix: "SageMaker", jsonVersion: "1.1"),
            credentials: credentials, retry: retry, logger: logger)
        let sqs = AWSJSONClient(
            configuration: AWSServiceConfiguration(
                endpoint: try url(sqsEndpoint ?? endpoint, "sqsEndpoint")
                    ?? AWSServiceConfiguration.defaultEndpoint(hostPrefix: "sqs", region: region),
                region: region, signingName: "sqs", targetPrefix: "AmazonSQS", jsonVersion: "1.0"),
            credentials: credentials, retry: retry, logger: logger)
        let configuration = SageMakerBackendConfiguration(
            roleArn: roleArn, defaultOutputPath: defaultOutputPath, eventQueueURL: try url(eventQueueUrl, "eventQueueUrl"),
            reconcileInterval: .seconds(reconcileSeconds ?? 60), eventWaitSeconds: eventWaitSeconds ?? 20,
            subnets: subnets ?? [], securityGroupIDs: securityGroupIds ?? [], volumeSizeGB: volumeSizeGB ?? 30, extraTags: tags ?? [:])
        return SageMakerBackend(configuration: configuration, sagemaker: sagemaker, sqs: sqs, logger: logger)
    }
}
