export { type Credentials, EnrollError, type SchoolInfo, enroll, schoolInfo, trustFor } from './enroll.ts';
