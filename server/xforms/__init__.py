"""XForms and XLSForms as plain data: conversion, metadata, schema. No Flask, no database."""
