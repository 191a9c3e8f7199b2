export { type RelayConfig, type PartnerConfig, ConfigError, configSchema, loadConfig, parseConfig } from './config.ts';
export { type AccountAuthenticator, type EnrolledAccount, Enrollment, EnrollmentError, newCode, normalizeCode } from './enrollment.ts';
export { type RelayKeys, KeystoreError, initSchool, isInitialized, loadRelayKeys, renewAuthority } from './keystore.ts';
export { Relay, type RelayOptions } from './relay.ts';
