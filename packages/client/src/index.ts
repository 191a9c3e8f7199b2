export { type Credentials, EnrollError, type SchoolInfo, enroll, refreshRevocations, schoolInfo, trustFor } from './enroll.ts';
export { renewCertificate, renewIfDue } from './renew.ts';
