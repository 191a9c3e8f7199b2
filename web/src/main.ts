// The web app's entry point (issue 5 builds the app here).
export const APP_NAME = 'Schoolmesh';
