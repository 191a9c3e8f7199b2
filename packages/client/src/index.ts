export { type Credentials, EnrollError, type SchoolInfo, enroll, refreshRevocations, schoolInfo, trustFor } from './enroll.ts';
